"""Bucket names users may create, and the backing bucket each maps to."""

from __future__ import annotations

import pytest

from dockyard.objectstore.names import SYSTEM_ACCOUNT, backing_bucket, bucket_name_problem


@pytest.mark.parametrize(
    "name",
    ["abc", "my-bucket", "my.bucket.1", "a" * 63, "0numbers9"],
    ids=["short", "hyphen", "dots", "longest", "digits at both ends"],
)
def test_a_valid_name_has_no_problem(name: str) -> None:
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("ab", "between 3 and 63"),
        ("a" * 64, "between 3 and 63"),
        ("My-Bucket", "lower-case"),
        ("-bucket", "begin and end"),
        ("bucket-", "begin and end"),
        ("bu_cket", "lower-case"),
        ("a..b", "adjacent dots"),
        ("a.-b", "adjacent dots"),
        ("192.168.1.1", "IP address"),
        ("xn--bucket", "reserves"),
        ("bucket-s3alias", "reserves"),
        ("v20180820", "reserved"),
    ],
    ids=[
        "too short",
        "too long",
        "upper case",
        "leading hyphen",
        "trailing hyphen",
        "underscore",
        "two dots",
        "dot next to hyphen",
        "an IP address",
        "S3's prefix",
        "S3's suffix",
        "S3 Control's path",
    ],
)
def test_an_invalid_name_says_why(name: str, words: str) -> None:
    problem = bucket_name_problem(name)
    assert problem is not None and words in problem


def test_backing_buckets_are_valid_names_apart_per_account_and_stable() -> None:
    names = {
        backing_bucket(account, bucket)
        for account in ("111111111111", "222222222222", SYSTEM_ACCOUNT)
        for bucket in ("data", "data2", "a" * 63)
    }
    assert len(names) == 9
    for name in names:
        assert bucket_name_problem(name) is None
    assert backing_bucket("111111111111", "data") == backing_bucket("111111111111", "data")
    assert backing_bucket("111111111111", "data").startswith("dy-111111111111-")
