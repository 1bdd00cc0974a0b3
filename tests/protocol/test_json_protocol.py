"""The AWS JSON 1.1 serializer and parser (no server)."""

from __future__ import annotations

import datetime

import pytest

from dockyard.errors import SerializationException
from dockyard.protocol.json_protocol import parse_body, serialize_result


def test_results_carry_timestamps_as_epoch_seconds() -> None:
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert serialize_result({"at": moment, "gone": None}) == b'{"at":1767225600.0}'


def test_members_without_a_value_are_left_out_at_any_depth() -> None:
    assert serialize_result({"a": [{"b": None, "c": 1}], "d": {"e": None}}) == b'{"a":[{"c":1}],"d":{}}'


@pytest.mark.parametrize("body", [b"{", b"[]", b'"text"'], ids=["truncated", "a list", "a string"])
def test_a_body_that_is_not_a_json_object_is_a_serialization_error(body: bytes) -> None:
    with pytest.raises(SerializationException):
        parse_body(body)
