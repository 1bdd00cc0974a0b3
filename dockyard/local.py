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
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _wait_healthy(endpoint: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
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


def _client(endpoint: str, key: keys.AccessKey, region: str) -> Any:
    """An ECS client whose every call is short: a call the server was too busy to answer is
    made again on a new connection, never waited on for botocore's minute (and its retries)."""
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "ecs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 2}),
    )


def _until(done: Callable[[], bool], what: str, timeout: float) -> bool:
    """Call ``done`` until it says True or ``timeout`` passes (a failing call is a "not yet");
    after 15 s, say once what ``up`` is waiting for."""
    started = time.monotonic()
    said = False
    while time.monotonic() - started < timeout:
        try:
            if done():
                return True
        except Exception:  # noqa: BLE001 - a slow start is no reason to stop
            pass
        if not said and time.monotonic() - started > 15:
            print(f"dockyard up: still waiting for {what}", file=sys.stderr, flush=True)
            said = True
        time.sleep(0.2)
    return False


def _ensure_default_cluster(endpoint: str, key: keys.AccessKey, region: str) -> None:
    client = _client(endpoint, key, region)

    def created() -> bool:
        client.create_cluster(clusterName="default")  # idempotent: an existing one is answered
        return True

    if not _until(created, "the server to create cluster 'default'", 300):
        sys.exit("dockyard up: the server did not create cluster 'default'")


def _wait_connected(endpoint: str, key: keys.AccessKey, region: str, timeout: float = 120) -> None:
    """Until the local agent is connected (its start-up lines are then behind the summary)."""
    client = _client(endpoint, key, region)

    def connected() -> bool:
        arns = client.list_container_instances(cluster="default")["containerInstanceArns"]
        if not arns:
            return False
        described = client.describe_container_instances(cluster="default", containerInstances=arns)
        return any(i["agentConnected"] for i in described["containerInstances"])

    _until(connected, "the local agent to connect", timeout)  # the summary comes either way


def summary(endpoint: str, region: str, data_dir: Path, new_admin_key: keys.AccessKey | None) -> str:
    """The lines ``dockyard up`` ends its start with: where to connect, and with which key."""
    rule = "=" * 72
    lines = [rule, f"Dockyard is up: {endpoint}  (cluster 'default', one local agent)"]
    if new_admin_key is not None:
        lines += [
            "Admin access key, shown this once; keep it:",
            f"  export AWS_ACCESS_KEY_ID={new_admin_key.access_key_id}",
            f"  export AWS_SECRET_ACCESS_KEY={new_admin_key.secret_access_key}",
            f"  export AWS_DEFAULT_REGION={region}",
        ]
    else:
        lines += [
            f"Admin access key: printed at the first start of {data_dir} (or set from",
            f"  DOCKYARD_ADMIN_*); make another with: dockyard keys create --data-dir {data_dir}",
        ]
    lines += [
        f"Try: aws ecs list-clusters --endpoint-url {endpoint}",
        f"Console: {endpoint}/console (sign in with the access key)",
        "Stop: Ctrl-C (tasks keep running; see README)",
        rule,
    ]
    return "\n".join(lines)


def run_up(
    args: argparse.Namespace, engine: Engine, sealer: Sealer, new_admin_key: keys.AccessKey | None = None
) -> None:
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
    _wait_connected(endpoint, agent_key, args.region)
    print(summary(endpoint, args.region, data_dir, new_admin_key), flush=True)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop()


def stop_local_tasks(data_dir: Path) -> int:
    """``dockyard down``: stop and remove the containers (or host processes) that the local
    agent of ``dockyard up`` on ``data_dir`` left running; how many were running. Refused
    (StateDirBusy) while that ``dockyard up`` still runs."""
    from dockyard.agent.drivers import Driver
    from dockyard.agent.host import docker_reachable
    from dockyard.agent.state_dir import StateDir
    from dockyard.agent.status import ContainerStatus

    path = data_dir / "agent"
    if not (path / "agent.json").exists():
        return 0
    state = StateDir(path)
    state.lock()
    try:
        instance_id = state.instance_id()
        from dockyard.agent.drivers.process import ProcessDriver

        drivers: list[Driver] = [ProcessDriver(instance_id, path)]
        if docker_reachable():
            from dockyard.agent.drivers.docker import DockerDriver

            drivers.append(DockerDriver(instance_id))
        stopped = 0
        for driver in drivers:
            try:
                found = driver.list_containers()
                for container in found:
                    if container.status < ContainerStatus.STOPPED:
                        driver.stop(container.runtime_id, 10)
                        stopped += 1
                    driver.remove(container.runtime_id)
                for task_arn in {c.task_arn for c in found if c.task_arn}:
                    driver.cleanup_task(task_arn)
            finally:
                driver.close()
        return stopped
    finally:
        state.unlock()
