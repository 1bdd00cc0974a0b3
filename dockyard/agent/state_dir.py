"""The agent's state directory: its stable identity and its registration.

``agent.json`` keeps the made-up EC2 instance id (``i-`` + 17 hex digits, made on first
start) and the container instance ARN the control plane gave us, with the endpoint and
cluster it belongs to, so a restart registers again as the *same* instance. A lock file
keeps a second agent off the same directory (two owners of one host's tasks would fight).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any

DEFAULT_STATE_DIR = Path.home() / ".dockyard-agent"


class StateDirBusy(RuntimeError):
    """Another agent holds this state directory."""


class StateDir:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_STATE_DIR
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock: IO[str] | None = None

    @property
    def file(self) -> Path:
        return self.path / "agent.json"

    def lock(self) -> None:
        """Take the directory for this process; StateDirBusy if another agent has it."""
        handle = (self.path / "agent.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StateDirBusy(f"another agent is using {self.path}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _read(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _write(self, data: dict[str, Any]) -> None:
        temporary = self.file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, self.file)

    def instance_id(self) -> str:
        """The stable EC2-style instance id of this host's agent."""
        data = self._read()
        if not data.get("instanceId"):
            data["instanceId"] = "i-" + secrets.token_hex(9)[:17]
            self._write(data)
        return str(data["instanceId"])

    def instance_arn(self, endpoint: str, cluster: str) -> str | None:
        """The ARN we registered as with this endpoint and cluster, if any."""
        data = self._read()
        if data.get("endpoint") == endpoint and data.get("cluster") == cluster:
            return data.get("containerInstanceArn") or None
        return None

    def save_registration(self, endpoint: str, cluster: str, instance_arn: str) -> None:
        data = self._read()
        data.update(endpoint=endpoint, cluster=cluster, containerInstanceArn=instance_arn)
        self._write(data)

    def forget_registration(self) -> None:
        data = self._read()
        data.pop("containerInstanceArn", None)
        self._write(data)
