"""The agent's version, reported in RegisterContainerInstance's ``versionInfo``."""

from __future__ import annotations

AGENT_VERSION = "0.1.0"
# The commit the agent was built from when known (a release build stamps it); "dev" otherwise.
AGENT_HASH = "dev"
