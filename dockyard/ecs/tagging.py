"""Tag lists as ECS checks them: at most 50, no reserved ``aws:`` prefix, allowed characters."""

from __future__ import annotations

import re
from typing import Any

from dockyard.errors import InvalidParameterException

MAX_TAGS = 50
_ALLOWED = re.compile(r"^[\w\s+\-=._:/@]*$", re.UNICODE)
_CHARACTERS = "Tag keys and values may contain only letters, numbers, spaces and + - = . _ : / @."


def check_tag_key(key: str | None) -> None:
    """Raise InvalidParameterException for a key ECS refuses (also for UntagResource's keys)."""
    if not key:
        raise InvalidParameterException("Tag keys must be between 1 and 128 characters.")
    if key.lower().startswith("aws:"):
        raise InvalidParameterException("Tag keys may not begin with the reserved prefix 'aws:'.")
    if not _ALLOWED.match(key):
        raise InvalidParameterException(_CHARACTERS)


def check_tags(tags: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The tags, validated; raises InvalidParameterException the way ECS does."""
    if not tags:
        return []
    if len(tags) > MAX_TAGS:
        raise InvalidParameterException("Tags can not have more than 50 entries.")
    for tag in tags:
        check_tag_key(tag.get("key"))
        if not _ALLOWED.match(tag.get("value") or ""):
            raise InvalidParameterException(_CHARACTERS)
    return [{"key": tag["key"], "value": tag.get("value", "")} for tag in tags]


def merge_tags(current: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """``current`` with ``new`` applied: same key replaces its value, new keys append."""
    merged = {tag["key"]: tag["value"] for tag in current}
    merged.update({tag["key"]: tag["value"] for tag in new})
    if len(merged) > MAX_TAGS:
        raise InvalidParameterException("Tags can not have more than 50 entries.")
    return [{"key": key, "value": value} for key, value in merged.items()]
