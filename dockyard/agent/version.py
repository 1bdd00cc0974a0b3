"""The agent's version, reported in RegisterContainerInstance's ``versionInfo``.

``DOCKYARD_AGENT_VERSION`` makes an agent report another version than its code's: for tests
and fleet simulations only (e.g. an agent pretending to be old, so UpdateContainerAgent has
something to update). An agent that updates itself drops it for the new code.
"""

from __future__ import annotations

import os

AGENT_VERSION = "0.1.0"
# The commit the agent was built from when known (a release build stamps it); "dev" otherwise.
AGENT_HASH = "dev"
VERSION_OVERRIDE = "DOCKYARD_AGENT_VERSION"


def agent_version() -> str:
    """The version this agent reports: its code's, unless DOCKYARD_AGENT_VERSION says otherwise."""
    return os.environ.get(VERSION_OVERRIDE) or AGENT_VERSION


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10.2"`` as (1, 10, 2), for ordering; anything not a number counts as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
