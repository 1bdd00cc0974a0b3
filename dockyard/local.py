"""``dockyard up``: a control plane and one local agent, supervised together.

Both run as child processes of ``up``. The agent signs with a key of its own, created on the
first ``up`` and kept in the data directory, so a restart needs nothing from the operator.
A SIGTERM stops the agent first (its containers keep running and are adopted on the next
``up``), then the server.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import Engine

from dockyard.identity import keys
from dockyard.identity.sealing import Sealer
from dockyard.store.db import transaction

AGENT_USER = "dockyard-agent"


def local_agent_key(engine: Engine, data_dir: Path, account_id: str, sealer: Sealer) -> keys.AccessKey:
    """The local agent's key, created once and kept (mode 0600) in the data directory."""
    path = data_dir / "local-agent-key.json"
    if path.exists():
        saved = json.loads(path.read_text())
        with transaction(engine, write=False) as connection:
            found = keys.find_key(connection, saved["access_key_id"], sealer)
        if found is not None and found.status == "Active":
            return found
    with transaction(engine) as connection:
        key = keys.create_key(connection, sealer, account_id=account_id, user_name=AGENT_USER)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(
        json.dumps({"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key})
    )
    return key


def _wait_healthy(endpoint: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("dockyard server exited during start-up")
        try:
            with urllib.request.urlopen(f"{endpoint}/_dockyard/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("dockyard server did not become healthy")


def _ensure_default_cluster(endpoint: str, key: keys.AccessKey, region: str) -> None:
    import botocore.session

    client = botocore.session.get_session().create_client(
        "ecs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
    )
    client.create_cluster(clusterName="default")


def run_up(args: argparse.Namespace, engine: Engine, sealer: Sealer) -> None:
    data_dir = Path(args.data_dir).resolve()
    account = os.environ.get("DOCKYARD_ACCOUNT_ID", keys.DEFAULT_ACCOUNT_ID)
    agent_key = local_agent_key(engine, data_dir, account, sealer)
    engine.dispose()
    endpoint = f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}"
    server_command = [
        sys.executable,
        "-m",
        "dockyard",
        "server",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        args.log_level,
    ]
    if args.database_url:
        server_command += ["--database-url", args.database_url]
    server = subprocess.Popen(server_command)
    children = [server]

    def stop(*_: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _wait_healthy(endpoint, server)
    _ensure_default_cluster(endpoint, agent_key, args.region)
    agent_env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=agent_key.access_key_id,
        AWS_SECRET_ACCESS_KEY=agent_key.secret_access_key,
        AWS_DEFAULT_REGION=args.region,
    )
    # The local agent is also the cluster's Fargate capacity: FARGATE tasks run here (awsvpc as bridge).
    agent_command = [
        sys.executable,
        "-m",
        "dockyard",
        "agent",
        "--endpoint",
        endpoint,
        "--cluster",
        "default",
        "--state-dir",
        str(data_dir / "agent"),
        "--region",
        args.region,
        "--fargate-capacity",
    ]
    if args.driver:
        agent_command += ["--driver", args.driver]
    children.append(subprocess.Popen(agent_command, env=agent_env))
    print(f"Dockyard is up: {endpoint} (cluster 'default', one local agent)", flush=True)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop()
