"""Starts real ``dockyard server`` processes for the tests and hands out clients for them."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import psycopg

from dockyard.identity import keys
from dockyard.identity.sealing import load_sealer
from dockyard.store.db import make_engine, sqlite_url, transaction

ADMIN_KEY_ID = "AKIADOCKYARDTESTADMIN"
ADMIN_SECRET = "dockyard-test-admin-secret"
# Deadlines guard against a hang, they are not expectations: a test waits on its condition and
# returns as soon as it holds, so a generous bound costs nothing when green and keeps the suite
# green on a machine loaded by a second copy of it (or by other suites).
START_DEADLINE = 120.0  # a server process answering its health check
WAIT_DEADLINE = 120.0  # any other condition a test waits for
REQUEST_TIMEOUT = 60.0  # one HTTP request
CLIENT_CONFIG = botocore.config.Config(
    retries={"max_attempts": 1}, connect_timeout=REQUEST_TIMEOUT, read_timeout=REQUEST_TIMEOUT
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drop_postgres_database(url: str) -> None:
    """Drop a database new_postgres_database made (after its server stopped)."""
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_postgres_database(admin_url: str) -> str:
    """A fresh, empty database on the test PostgreSQL server; returns its URL."""
    name = "dockyard_test_" + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    account_id: str


@dataclass
class DockyardServer:
    """One ``dockyard server`` process with its own data directory (and database)."""

    data_dir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)  # more environment variables
    # A replica on another's store must seal secrets as that one does: pass its master_key_path.
    master_key_file: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def master_key_path(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "dockyard",
            "server",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        if self.database_url:
            command += ["--database-url", self.database_url]
        if self.master_key_file:
            command += ["--master-key-file", str(self.master_key_file)]
        return command

    def start(self, timeout: float = START_DEADLINE) -> DockyardServer:
        """Start the process and wait until it answers its health check; fail at once if it
        exits first, or after ``timeout`` seconds (the process is then killed)."""
        env = dict(
            os.environ,
            DOCKYARD_ADMIN_ACCESS_KEY_ID=ADMIN_KEY_ID,
            DOCKYARD_ADMIN_SECRET_ACCESS_KEY=ADMIN_SECRET,
            **self.environment,
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "server.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockyard server exited: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_dockyard/health", timeout=5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.process.kill()
        self.process.wait(timeout=REQUEST_TIMEOUT)
        self.process = None
        raise RuntimeError(f"dockyard server did not start within {timeout} s: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=WAIT_DEADLINE)
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def new_account(self, account_id: str | None = None, user_name: str = "tester") -> Credentials:
        """A fresh account (a random id unless given) with one access key, written to the store."""
        account_id = account_id or str(secrets.randbelow(10**12)).zfill(12)
        engine = make_engine(self.store_url)
        try:
            with transaction(engine) as connection:
                key = keys.create_key(
                    connection,
                    load_sealer(self.data_dir, self.master_key_file),
                    account_id=account_id,
                    user_name=user_name,
                )
        finally:
            engine.dispose()
        return Credentials(key.access_key_id, key.secret_access_key, account_id)

    def client(self, credentials: Credentials, service: str = "ecs", region: str = "us-east-1") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=CLIENT_CONFIG,
        )


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def error_code(self) -> str:
        return str(self.body.get("__type", ""))


def raw_call(
    endpoint: str,
    target: str,
    body: bytes,
    credentials: Credentials | None = None,
    *,
    region: str = "us-east-1",
    signed_at: Any = None,
    tamper: Any = None,
) -> RawReply:
    """POST one AWS JSON 1.1 request exactly as given (signed with botocore unless no
    credentials), so tests can send what boto3 never would."""
    import json
    import urllib.error
    from unittest import mock

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{target}",
    }
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    if credentials is not None:
        signer = botocore.auth.SigV4Auth(
            BotoCredentials(credentials.access_key_id, credentials.secret_access_key), "ecs", region
        )
        if signed_at is not None:
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=signed_at):
                signer.add_auth(request)
        else:
            signer.add_auth(request)
    prepared = request.prepare()
    data = prepared.body if tamper is None else tamper(prepared.body)
    outgoing = urllib.request.Request(prepared.url, data=data, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(outgoing, timeout=REQUEST_TIMEOUT) as response:
            status, reply_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, raw = error.code, dict(error.headers), error.read()
    return RawReply(status, {k.lower(): v for k, v in reply_headers.items()}, json.loads(raw or b"{}"))


@dataclass
class DockyardAgent:
    """One ``dockyard agent`` process registering into ``cluster`` of the given account."""

    server: DockyardServer
    credentials: Credentials
    state_dir: Path
    cluster: str = "default"
    driver: str | None = None
    process: subprocess.Popen[bytes] | None = None
    options: tuple[str, ...] = ()  # more command-line options
    environment: dict[str, str] = field(default_factory=dict)  # more environment variables

    def start(self) -> DockyardAgent:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            # Tests' stopped containers go at once; one test keeps ECS's 3 h to check it.
            "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "0s",
            **self.environment,
        }
        command = [
            sys.executable,
            "-m",
            "dockyard",
            "agent",
            "--endpoint",
            self.server.endpoint,
            "--cluster",
            self.cluster,
            "--state-dir",
            str(self.state_dir),
            "--log-level",
            "info",
            *self.options,
        ]
        if self.driver:
            command += ["--driver", self.driver]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=WAIT_DEADLINE)
        self.process = None
        return code

    def log(self) -> str:
        path = self.state_dir / "agent.log"
        return path.read_text(errors="replace") if path.exists() else ""


def account_state(engine: Any, account_id: str, ignore: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Every row of the account in every table of the store (and its services' wake-ups), as
    sorted JSON, without the columns named in ``ignore``: to show a refusal changed nothing."""
    import json

    from sqlalchemy import select

    from dockyard.store.schema import metadata, service_wakeups, services

    state: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if "account_id" in table.c:
                query = select(table).where(table.c.account_id == account_id)
            elif table is service_wakeups:
                owned = select(services.c.id).where(services.c.account_id == account_id)
                query = select(table).where(table.c.service_id.in_(owned))
            else:
                continue
            rows = connection.execute(query).mappings().all()
            state[table.name] = sorted(
                json.dumps({k: v for k, v in row.items() if k not in ignore}, sort_keys=True, default=str)
                for row in rows
            )
    return state


def wait_for(
    check: Any, timeout: float = WAIT_DEADLINE, interval: float = 0.2, message: str | Callable[[], str] = ""
) -> Any:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds, and
    never before ``WAIT_DEADLINE``: a deadline only guards against a hang, and a test's own
    guess of how long a condition takes fails on a loaded machine (issue 9)."""
    timeout = max(timeout, WAIT_DEADLINE)
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            # A callable message (a log) is read at the timeout, not when the wait began.
            raise AssertionError(f"timed out after {timeout}s {message() if callable(message) else message}")
        time.sleep(interval)


def connected_instances(
    ecs: Any, count: int = 1, *, cluster: str = "default", timeout: float = WAIT_DEADLINE, message: str = ""
) -> list[str]:
    """The ARNs of the cluster's instances once ``count`` of them have their agent connected
    (a registration alone takes no tasks: the agent's connection is its sign of life)."""

    def connected() -> list[str]:
        arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
        if len(arns) < count:
            return []
        described = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)
        live = [i["containerInstanceArn"] for i in described["containerInstances"] if i["agentConnected"]]
        return live if len(live) >= count else []

    return list(wait_for(connected, timeout, message=message))


class Tenant:
    """One account on a server with one agent of its own: run tasks, watch them, read their
    output the way a user does (``dockyard logs``)."""

    def __init__(self, server: DockyardServer, account: Credentials, agent: DockyardAgent) -> None:
        self.server, self.account, self.agent = server, account, agent
        self.ecs = server.client(account)

    def run(self, family: str, containers: list[dict[str, Any]], **extra: Any) -> str:
        """Register ``family`` and run one task of it; its ARN."""
        self.ecs.register_task_definition(family=family, containerDefinitions=containers, **extra)
        result = self.ecs.run_task(taskDefinition=family)
        assert result["failures"] == [], result["failures"]
        return str(result["tasks"][0]["taskArn"])

    def task(self, arn: str) -> dict[str, Any]:
        return dict(self.ecs.describe_tasks(tasks=[arn])["tasks"][0])

    def wait_status(self, arn: str, status: str, timeout: float = WAIT_DEADLINE) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: (t := self.task(arn))["lastStatus"] == status and t,
                timeout,
                message=f"for {status}: {self.agent.log()[-3000:]}",
            )
        )

    def logs(self, arn: str) -> str:
        done = subprocess.run(
            [".venv/bin/dockyard", "logs", arn, "--endpoint", self.server.endpoint],
            capture_output=True,
            text=True,
            timeout=WAIT_DEADLINE,
            check=True,
            env={
                "AWS_ACCESS_KEY_ID": self.account.access_key_id,
                "PATH": "/usr/bin:/bin",
                "AWS_SECRET_ACCESS_KEY": self.account.secret_access_key,
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        )
        return done.stdout


class HollowAgents:
    """Hollow agents (``dockyard.agent.hollow``) of one account on a test server, on a loop
    thread of their own: each fleet is registered and connected when ``start`` returns."""

    def __init__(self, server: DockyardServer, account: Credentials) -> None:
        from dockyard.agent.hollow import HollowThread

        self.server, self.account = server, account
        self.thread = HollowThread()

    def start(self, count: int = 1, **config: Any) -> Any:
        from botocore.credentials import Credentials as BotoCredentials

        from dockyard.agent.hollow import HollowConfig

        return self.thread.start(
            HollowConfig(endpoint=self.server.endpoint, count=count, **config),
            BotoCredentials(self.account.access_key_id, self.account.secret_access_key),
        )

    def instance(
        self,
        ecs: Any,
        *,
        cluster: str = "default",
        zone: str = "us-east-1a",
        instance_type: str = "m5.large",
        attributes: list[dict[str, str]] | None = None,
        **config: Any,
    ) -> dict[str, Any]:
        """One connected instance, as DescribeContainerInstances shows it (the test drives its
        tasks' lifecycle by hand unless ``reports=True``)."""
        config.setdefault("reports", False)
        fleet = self.start(
            cluster=cluster,
            zones=(zone,),
            instance_type=instance_type,
            attributes=tuple((a["name"], a.get("value")) for a in attributes or ()),
            **config,
        )
        described = ecs.describe_container_instances(cluster=cluster, containerInstances=fleet.arns)
        return dict(described["containerInstances"][0])

    def stop(self, fleet: Any) -> None:
        self.thread.stop(fleet)

    def stop_all(self) -> None:
        """Every agent goes away (its instances stay registered, disconnected)."""
        self.thread.stop_all()

    def close(self) -> None:
        self.thread.close()
