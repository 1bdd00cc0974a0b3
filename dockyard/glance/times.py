"""Glance's timestamps: UTC, whole seconds, ``Z`` (oslo's ``isotime``)."""

from __future__ import annotations

import time


def isotime(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
