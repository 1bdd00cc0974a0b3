"""The ``dockyard`` command: the control plane, a local set-up, an agent, and admin verbs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from dockyard.gc_tuning import tune_for_long_running
from dockyard.glance import cli as glance_cli
from dockyard.identity import keys
from dockyard.identity.sealing import Sealer, load_sealer
from dockyard.objectstore import options as object_store_options
from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.migrate import upgrade

DEFAULT_PORT = 5566  # out of the way of LocalStack (4566) and moto (5000)


def open_store(data_dir: str, database_url: str | None) -> Engine:
    """The migrated store: ``database_url`` if given, else SQLite inside ``data_dir``.

    The data directory is the owner's alone (0700), and so are the database's files (0600;
    SQLite gives its WAL and shared-memory files the database file's mode)."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    if not database_url:
        database = directory / "dockyard.db"
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        for path in (database, directory / "dockyard.db-wal", directory / "dockyard.db-shm"):
            if path.exists():
                path.chmod(0o600)
    engine = make_engine(database_url or sqlite_url(data_dir))
    upgrade(engine)
    return engine


def open_sealer(args: argparse.Namespace, engine: Engine) -> Sealer:
    """The master key's sealer; secrets stored before sealing existed are sealed now."""
    sealer = load_sealer(args.data_dir, args.master_key_file)
    with transaction(engine) as connection:
        keys.seal_stored_secrets(connection, sealer)
    return sealer


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("DOCKYARD_DATA_DIR", "./dockyard-data"),
        help="where Dockyard keeps its state (default: ./dockyard-data)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DOCKYARD_DATABASE_URL"),
        help="a PostgreSQL URL; default: SQLite inside --data-dir",
    )
    parser.add_argument(
        "--master-key-file",
        default=os.environ.get("DOCKYARD_MASTER_KEY_FILE"),
        help="the key that seals secret keys at rest (default: master.key in --data-dir, made at "
        "first start; control planes sharing a PostgreSQL database must share it)",
    )


def _listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the port to listen on (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="how much the control plane logs (default: warning)",
    )


def bootstrap_admin_key(engine: Engine, sealer: Sealer) -> keys.AccessKey | None:
    """Create the admin key on first start (from DOCKYARD_ADMIN_* when set); None if it exists."""
    key_id = os.environ.get("DOCKYARD_ADMIN_ACCESS_KEY_ID")
    secret = os.environ.get("DOCKYARD_ADMIN_SECRET_ACCESS_KEY")
    account = os.environ.get("DOCKYARD_ACCOUNT_ID", keys.DEFAULT_ACCOUNT_ID)
    with transaction(engine) as connection:
        if key_id and secret:
            if keys.find_key(connection, key_id, sealer) is not None:
                return None
            return keys.create_key(
                connection, sealer, account_id=account, access_key_id=key_id, secret_access_key=secret
            )
        if keys.has_keys(connection):
            return None
        return keys.create_key(connection, sealer, account_id=account)


# How every control-plane process serves: no access log, the fastest loop, and httptools'
# parser held to the connection limits (dockyard.protocol.connections). Agent sockets' state
# frames go uncompressed (deflating them cost more than they weigh).
_UVICORN: dict[str, Any] = {
    "access_log": False,
    "lifespan": "on",
    "loop": "uvloop",
    "ws_per_message_deflate": False,
}


def _connection_limits(args: argparse.Namespace) -> Any:
    from dockyard.protocol.connections import ConnectionLimits

    return ConnectionLimits(
        head_seconds=args.header_timeout,
        body_seconds=args.body_timeout,
        keep_alive_seconds=args.keep_alive_timeout,
        max_connections=args.max_connections,
        max_connections_per_client=args.max_connections_per_client,
    )


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from dockyard.app import build_app, build_server_state

    engine = open_store(args.data_dir, args.database_url)
    sealer = open_sealer(args, engine)
    created = bootstrap_admin_key(engine, sealer)
    endpoint = f"http://{args.host}:{args.port}"
    print(f"Dockyard endpoint: {endpoint}", flush=True)
    if created is not None and created.access_key_id == os.environ.get("DOCKYARD_ADMIN_ACCESS_KEY_ID"):
        print(f"Admin access key {created.access_key_id} created from DOCKYARD_ADMIN_*.", flush=True)
    elif created is not None:
        print("Admin access key (shown once, keep it):", flush=True)
        print(f"  AWS_ACCESS_KEY_ID={created.access_key_id}", flush=True)
        print(f"  AWS_SECRET_ACCESS_KEY={created.secret_access_key}", flush=True)
    if args.no_verify_signatures:
        print("WARNING: signature verification is OFF; anyone can call this server.", flush=True)
    host = "127.0.0.1" if args.host == "0.0.0.0" else args.host
    public_url = args.advertise_url or f"http://{host}:{args.port}"
    if args.workers < 1:
        sys.exit("--workers must be at least 1")
    store_settings = object_store_options.settings(args)
    if args.workers > 1:
        engine.dispose()
        _serve_workers(args, public_url, store_settings)
        return
    from dockyard.protocol import connections

    limits = _connection_limits(args)
    connections.configure(limits)
    state = build_server_state(
        engine,
        public_url=public_url,
        sealer=sealer,
        verify_signatures=not args.no_verify_signatures,
        default_account_id=os.environ.get("DOCKYARD_ACCOUNT_ID"),
        object_store=store_settings,
    )
    config = uvicorn.Config(
        build_app(state),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        **_UVICORN,
        **connections.uvicorn_settings(limits),
    )
    server = uvicorn.Server(config)

    # A stop signal that lands before uvicorn installs its own handlers must still stop it;
    # uvicorn also re-raises the signal once it has shut down, and this handler absorbs that,
    # so a SIGTERM stop ends with status 0 as service managers and scripts expect.
    def request_stop(*_: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    tune_for_long_running()
    server.run()


_WORKER_SETTINGS = "DOCKYARD_WORKER_SETTINGS"


def _serve_workers(args: argparse.Namespace, public_url: str, store_settings: Any) -> None:
    """``--workers N``: uvicorn's supervisor runs N processes on one listening socket.

    Each worker opens its own engine (the store is already migrated) and behaves as one more
    control-plane replica: its own key cache, and agent wake-ups that reach other workers
    through the store, as they reach other replicas.
    """
    import dataclasses

    import uvicorn

    from dockyard.protocol import connections

    limits = _connection_limits(args)
    if store_settings.url is None:
        # One embedded store for all the workers (a multipart upload's parts may reach any of
        # them): this process runs it, and the workers use it as an external one.
        from dockyard.objectstore import ObjectStore

        embedded = ObjectStore(store_settings)
        store_settings = dataclasses.replace(
            store_settings,
            url=embedded.ready_sync(),
            access_key_id=embedded.access_key_id,
            secret_access_key=embedded.secret_access_key,
        )
    object_store_options.export(store_settings)
    os.environ[_WORKER_SETTINGS] = json.dumps(
        {
            "database_url": args.database_url or sqlite_url(args.data_dir),
            "public_url": public_url,
            "verify_signatures": not args.no_verify_signatures,
            "default_account_id": os.environ.get("DOCKYARD_ACCOUNT_ID"),
            "connection_limits": dataclasses.asdict(limits),
            "data_dir": args.data_dir,
            "master_key_file": args.master_key_file,
        }
    )
    uvicorn.run(
        "dockyard.cli:worker_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        **_UVICORN,
        **connections.uvicorn_settings(limits),
    )


def worker_app() -> Any:
    """The application of one ``--workers`` process (uvicorn imports and calls this)."""
    from dockyard.app import build_app, build_server_state
    from dockyard.protocol import connections

    settings = json.loads(os.environ[_WORKER_SETTINGS])
    connections.configure(connections.ConnectionLimits(**settings["connection_limits"]))
    state = build_server_state(
        make_engine(settings["database_url"]),
        public_url=settings["public_url"],
        sealer=load_sealer(settings["data_dir"], settings["master_key_file"]),
        verify_signatures=settings["verify_signatures"],
        default_account_id=settings["default_account_id"],
        object_store=object_store_options.from_environment(settings["data_dir"]),
    )
    app = build_app(state)
    tune_for_long_running()
    return app


def up(args: argparse.Namespace) -> None:
    from dockyard.local import run_up

    object_store_options.export(object_store_options.settings(args))  # the server inherits them
    engine = open_store(args.data_dir, args.database_url)
    sealer = open_sealer(args, engine)
    created = bootstrap_admin_key(engine, sealer)
    shown = (
        created
        if created is not None and created.access_key_id != os.environ.get("DOCKYARD_ADMIN_ACCESS_KEY_ID")
        else None
    )
    run_up(args, engine, sealer, new_admin_key=shown)  # prints the key last, once everything is up


def down(args: argparse.Namespace) -> None:
    from dockyard.agent.state_dir import StateDirBusy
    from dockyard.local import stop_local_tasks

    data_dir = Path(args.data_dir).resolve()
    try:
        stopped = stop_local_tasks(data_dir)
    except StateDirBusy:
        sys.exit(f"dockyard down: dockyard up is still running on {data_dir}; stop it first (Ctrl-C)")
    print(f"stopped {stopped} running container(s) of the local agent of {data_dir}")


def agent(args: argparse.Namespace) -> None:
    from dockyard.agent.cli import run_agent

    run_agent(args)


def logs_command(args: argparse.Namespace) -> None:
    from dockyard.logs_client import print_logs

    print_logs(args)


def keys_command(args: argparse.Namespace) -> None:
    engine = open_store(args.data_dir, args.database_url)
    sealer = open_sealer(args, engine)
    with transaction(engine) as connection:
        if args.keys_verb == "create":
            key = keys.create_key(connection, sealer, account_id=args.account_id, user_name=args.user)
            print(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
            print(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
            print(f"account={key.account_id} user={key.user_name}")
        elif args.keys_verb == "list":
            for key in keys.list_keys(connection):
                print(f"{key.access_key_id}\t{key.account_id}\t{key.user_name}\t{key.status}")
        elif not keys.revoke_key(connection, args.access_key_id):
            sys.exit(f"no such access key: {args.access_key_id}")
        else:
            print(f"revoked {args.access_key_id}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description="Dockyard: a self-hosted container orchestrator that speaks the Amazon ECS API.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, help="what to do")

    server = verbs.add_parser("server", help="run the control plane in the foreground")
    _store_arguments(server)
    _listen_arguments(server)
    server.add_argument("--advertise-url", help="the URL agents on other hosts reach this server at")
    server.add_argument(
        "--no-verify-signatures",
        action="store_true",
        help="accept unsigned requests (throwaway test set-ups only)",
    )
    server.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (default 1; see docs/performance.md)",
    )
    object_store_options.add_arguments(server)
    glance_cli.add_server_arguments(server)
    limits = server.add_argument_group("connection limits (slow and abusive clients)")
    limits.add_argument("--header-timeout", type=float, default=10.0, help="seconds to send a request head")
    limits.add_argument("--body-timeout", type=float, default=30.0, help="seconds to send a request body")
    limits.add_argument("--keep-alive-timeout", type=int, default=5, help="idle seconds between requests")
    limits.add_argument("--max-connections", type=int, default=10_000, help="open connections in all")
    limits.add_argument(
        "--max-connections-per-client", type=int, default=512, help="open connections from one address"
    )
    server.set_defaults(run=serve)

    up_parser = verbs.add_parser("up", help="run the control plane and a local agent")
    _store_arguments(up_parser)
    _listen_arguments(up_parser)
    up_parser.add_argument(
        "--region",
        default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        help="the local agent's region (default: $AWS_DEFAULT_REGION or us-east-1)",
    )
    up_parser.add_argument(
        "--driver",
        choices=["docker", "process"],
        help="how the local agent runs tasks (default: docker when an engine answers, else process)",
    )
    object_store_options.add_arguments(up_parser)
    glance_cli.add_server_arguments(up_parser)
    up_parser.set_defaults(run=up)

    down_parser = verbs.add_parser(
        "down", help="stop and remove the containers the local agent of a stopped `dockyard up` left running"
    )
    _store_arguments(down_parser)
    down_parser.set_defaults(run=down)

    from dockyard.agent.cli import add_agent_arguments

    agent_parser = verbs.add_parser("agent", help="run an agent that registers this host")
    add_agent_arguments(agent_parser)
    agent_parser.set_defaults(run=agent)

    logs_parser = verbs.add_parser("logs", help="print a task's container output")
    logs_parser.add_argument("task", help="task ARN or id")
    logs_parser.add_argument("--container", help="only this container's output")
    logs_parser.add_argument(
        "--endpoint",
        default=os.environ.get("DOCKYARD_ENDPOINT", f"http://127.0.0.1:{DEFAULT_PORT}"),
        help=f"the control plane's URL (default: $DOCKYARD_ENDPOINT or http://127.0.0.1:{DEFAULT_PORT})",
    )
    logs_parser.add_argument(
        "--region",
        default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        help="the task's region (default: $AWS_DEFAULT_REGION or us-east-1)",
    )
    logs_parser.add_argument("--timestamps", action="store_true", help="start each line with its time (UTC)")
    logs_parser.set_defaults(run=logs_command)

    key_parser = verbs.add_parser("keys", help="manage access keys")
    key_verbs = key_parser.add_subparsers(dest="keys_verb", required=True, help="create, list or revoke")
    create = key_verbs.add_parser("create", help="create a key")
    create.add_argument(
        "--account-id",
        default=keys.DEFAULT_ACCOUNT_ID,
        help=f"the account the key belongs to (default: {keys.DEFAULT_ACCOUNT_ID})",
    )
    create.add_argument("--user", default="admin", help="the user name the key signs as (default: admin)")
    key_verbs.add_parser("list", help="list keys")
    revoke = key_verbs.add_parser("revoke", help="revoke a key")
    revoke.add_argument("access_key_id", help="the key to revoke (AKIA...)")
    for sub in (create, key_verbs.choices["list"], revoke):
        _store_arguments(sub)
    key_parser.set_defaults(run=keys_command)
    glance_cli.add_verbs(verbs)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.run(args)
