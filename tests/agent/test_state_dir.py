"""The state directory: a stable instance id, the registration, one agent at a time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockyard.agent.state_dir import StateDir, StateDirBusy


def test_the_instance_id_is_made_once_and_kept(tmp_path: Path) -> None:
    first = StateDir(tmp_path).instance_id()
    assert re.fullmatch(r"i-[0-9a-f]{17}", first)
    assert StateDir(tmp_path).instance_id() == first
    assert StateDir(tmp_path / "other").instance_id() != first


def test_the_registration_belongs_to_its_endpoint_and_cluster(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.save_registration("http://a", "default", "arn:one")
    assert StateDir(tmp_path).instance_arn("http://a", "default") == "arn:one"
    assert state.instance_arn("http://b", "default") is None
    assert state.instance_arn("http://a", "prod") is None
    instance_id = state.instance_id()
    state.forget_registration()
    assert state.instance_arn("http://a", "default") is None
    assert state.instance_id() == instance_id


def test_a_second_agent_cannot_take_the_same_directory(tmp_path: Path) -> None:
    first = StateDir(tmp_path)
    first.lock()
    with pytest.raises(StateDirBusy):
        StateDir(tmp_path).lock()
    first.unlock()
    second = StateDir(tmp_path)
    second.lock()
    second.unlock()
