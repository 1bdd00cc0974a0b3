"""Manifest lines to items (URL-encoded keys, field orders, versions), inventory schemas, and
ManifestGenerator filters."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from dockyard.batch.invocation import Item
from dockyard.batch.manifests import ManifestError, csv_items, inventory_fields, matches

LINES = [
    ("bucket and key", ["Bucket", "Key"], ["b,k1\n"], [Item("b", "k1")]),
    ("encoded key", ["Bucket", "Key"], ["b,dir/a%20b%2Bc\n"], [Item("b", "dir/a b+c")]),
    ("plus is a space", ["Bucket", "Key"], ["b,a+b\n"], [Item("b", "a b")]),
    ("with version", ["Bucket", "Key", "VersionId"], ["b,k,v1\n"], [Item("b", "k", "v1")]),
    ("ignored column first", ["Ignore", "Key", "Bucket"], ["x,k,b\n"], [Item("b", "k")]),
    ("blank lines skipped", ["Bucket", "Key"], ["b,k\n", "\n", "b,l\n"], [Item("b", "k"), Item("b", "l")]),
    ("quoted comma in a key", ["Bucket", "Key"], ['b,"a,b"\n'], [Item("b", "a,b")]),
]


@pytest.mark.parametrize(("fields", "lines", "items"), [c[1:] for c in LINES], ids=[c[0] for c in LINES])
def test_csv_items(fields: list[str], lines: list[str], items: list[Item]) -> None:
    assert list(csv_items(lines, fields)) == items


def test_a_short_line_is_a_manifest_error() -> None:
    with pytest.raises(ManifestError):
        list(csv_items(["b,k\n", "onlybucket\n"], ["Bucket", "Key"]))


def test_csv_items_stream() -> None:
    def lines() -> Any:
        n = 0
        while True:  # endless: only what is taken is read
            yield f"b,k{n}\n"
            n += 1

    taken = csv_items(lines(), ["Bucket", "Key"])
    assert [next(taken).key for _ in range(3)] == ["k0", "k1", "k2"]


def test_inventory_schema() -> None:
    assert inventory_fields("Bucket, Key, VersionId, IsLatest, Size") == [
        "Bucket",
        "Key",
        "VersionId",
        "Ignore",
        "Ignore",
    ]


NOW = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
FILTERS = [
    ("no filter", {}, True),
    ("prefix", {"KeyNameConstraint": {"MatchAnyPrefix": ["x/", "logs/"]}}, True),
    ("other prefix", {"KeyNameConstraint": {"MatchAnyPrefix": ["x/"]}}, False),
    ("suffix", {"KeyNameConstraint": {"MatchAnySuffix": [".gz"]}}, True),
    ("substring", {"KeyNameConstraint": {"MatchAnySubstring": ["nope"]}}, False),
    ("bigger than", {"ObjectSizeGreaterThanBytes": 99}, True),
    ("not bigger than", {"ObjectSizeGreaterThanBytes": 100}, False),
    ("smaller than", {"ObjectSizeLessThanBytes": 100}, False),
    ("created after", {"CreatedAfter": NOW.timestamp() - 1}, True),
    ("created before", {"CreatedBefore": NOW.timestamp()}, False),
    ("storage class", {"MatchAnyStorageClass": ["GLACIER"]}, False),
]


@pytest.mark.parametrize(("filters", "wanted"), [c[1:] for c in FILTERS], ids=[c[0] for c in FILTERS])
def test_generator_filters(filters: dict[str, Any], wanted: bool) -> None:
    listed = {"Key": "logs/a.gz", "Size": 100, "LastModified": NOW, "StorageClass": "STANDARD"}
    assert matches(listed, filters) is wanted
