"""``dockyard agent``: run this host's agent in the foreground.

SIGTERM or SIGINT stops the agent cleanly *without* stopping the containers: they keep
running and the next start adopts them. An agent update ends the same way, then this process
execs the staged code with the same options (same pid; the new code adopts the containers).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import functools
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.agent.agent import Agent, AgentConfig, AgentStartError
from dockyard.agent.registration import parse_ports
from dockyard.agent.state_dir import DEFAULT_STATE_DIR, StateDirBusy
from dockyard.agent.update import Replacement
from dockyard.gc_tuning import tune_for_long_running

if TYPE_CHECKING:
    from dockyard.agent.hollow import HollowConfig

log = logging.getLogger(__name__)


def add_agent_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dockyard agent``."""
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("DOCKYARD_ENDPOINT"),
        help="the control plane's URL, e.g. http://10.0.0.5:5566 (default: $DOCKYARD_ENDPOINT)",
    )
    parser.add_argument(
        "--cluster",
        default=os.environ.get("DOCKYARD_CLUSTER", "default"),
        help="the cluster to join (default: default)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=os.environ.get("DOCKYARD_AGENT_STATE_DIR") or DEFAULT_STATE_DIR,
        help=f"where the agent keeps its identity (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--driver", choices=("docker", "process"), help="docker (default when an engine answers) or process"
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
        help="the region to sign requests for (default: $AWS_DEFAULT_REGION)",
    )
    parser.add_argument("--availability-zone", help="reported zone (default: REGION + 'a')")
    parser.add_argument(
        "--fargate-capacity",
        action="store_true",
        help="offer this host as capacity for FARGATE tasks (attribute "
        "dockyard.capacity.fargate=true; awsvpc tasks run in bridge mode)",
    )
    parser.add_argument(
        "--reserved-ports",
        type=_ports,
        default=os.environ.get("ECS_RESERVED_PORTS", ""),  # argparse converts a string default
        help="TCP host ports tasks may not take, beyond ECS's 22, 2375, 2376, 51678 and 51679: "
        "'80,443' or ECS_RESERVED_PORTS' '[80, 443]' (default: $ECS_RESERVED_PORTS)",
    )
    parser.add_argument(
        "--reserved-udp-ports",
        type=_ports,
        default=os.environ.get("ECS_RESERVED_PORTS_UDP", ""),
        help="UDP host ports tasks may not take (default: $ECS_RESERVED_PORTS_UDP)",
    )
    parser.add_argument(
        "--task-cleanup-wait",
        type=_duration,
        default=os.environ.get("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION") or "3h",
        help="how long a stopped task's containers stay on the host before they are removed "
        "(docker driver), e.g. 3h, 10m, 30s (default: $ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION or 3h)",
    )
    parser.add_argument(
        "--allow-host-commands",
        action="store_true",
        help="let IoT jobs run runCommand documents: processes on this host, as the agent's user",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="how much the agent logs (default: info)",
    )
    add_hollow_arguments(parser.add_argument_group("hollow agents (simulated instances, no containers)"))


def add_hollow_arguments(group: Any) -> None:
    """``--hollow N`` and what shapes the simulated fleet (dockyard/agent/hollow.py)."""
    group.add_argument(
        "--hollow",
        type=int,
        metavar="N",
        help="run N simulated container instances instead of this host's agent: each registers, "
        "holds its own connection and reports its tasks PENDING then RUNNING without starting them",
    )
    group.add_argument("--hollow-cpu", type=int, default=2048, help="CPU units each registers (default 2048)")
    group.add_argument("--hollow-memory", type=int, default=4096, help="MiB each registers (default 4096)")
    group.add_argument(
        "--hollow-zones",
        default="",
        help="availability zones, comma-separated, taken round-robin (default: REGION + 'a')",
    )
    group.add_argument("--hollow-instance-type", default="dockyard.hollow", help="reported instance type")
    group.add_argument(
        "--hollow-attribute",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="a custom attribute of every instance (repeatable)",
    )
    group.add_argument(
        "--hollow-task-seconds",
        type=float,
        help="every task's container exits 0 after this long (default: never)",
    )
    group.add_argument(
        "--hollow-fail-rate", type=float, default=0.0, help="the share of tasks whose container exits 1 (0-1)"
    )
    group.add_argument(
        "--hollow-fail-seconds", type=float, default=0.0, help="how long a failing task runs (default 0)"
    )
    group.add_argument(
        "--hollow-no-reports",
        action="store_true",
        help="take tasks but report nothing (they stay PROVISIONING)",
    )
    group.add_argument(
        "--hollow-concurrency", type=int, default=16, help="API calls under way at once (default 16)"
    )
    group.add_argument("--hollow-seed", type=int, help="which tasks fail, reproducibly")


def hollow_config(args: argparse.Namespace) -> HollowConfig:
    """The fleet ``--hollow`` and its options describe."""
    from dockyard.agent.hollow import HollowConfig
    from dockyard.agent.hollow_tasks import TaskScript

    if not 0.0 <= args.hollow_fail_rate <= 1.0:
        raise ValueError("--hollow-fail-rate is a share between 0 and 1")
    attributes = tuple(
        (name, value if sep else None)
        for name, sep, value in (item.partition("=") for item in args.hollow_attribute)
    )
    return HollowConfig(
        endpoint=args.endpoint.rstrip("/"),
        count=args.hollow,
        cluster=args.cluster,
        region=args.region,
        cpu=args.hollow_cpu,
        memory=args.hollow_memory,
        zones=tuple(zone for zone in args.hollow_zones.split(",") if zone),
        instance_type=args.hollow_instance_type,
        attributes=attributes,
        script=TaskScript(args.hollow_task_seconds, args.hollow_fail_rate, args.hollow_fail_seconds),
        reports=not args.hollow_no_reports,
        concurrency=args.hollow_concurrency,
        seed=args.hollow_seed,
    )


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """A Go duration as the ECS agent's settings take it (``3h``, ``1h30m``, ``45s``, ``0``) in
    seconds."""
    text = text.strip()
    if text == "0":
        return 0.0
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {text!r} (e.g. 3h, 10m, 30s)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _ports(text: str) -> tuple[int, ...]:
    try:
        return parse_ports(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


STOP_GRACE_SECONDS = 20.0


async def _run(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        # Letting go takes a moment (in-flight driver calls, the socket's close); should it
        # ever hang, dump every thread's stack and exit rather than linger.
        faulthandler.dump_traceback_later(STOP_GRACE_SECONDS, exit=True)
        if not stop.is_set():
            logging.getLogger(__name__).info("stopping: letting go of the tasks, not the containers")
        stop.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, on_signal)
    await run(stop)


def agent_argv(args: argparse.Namespace) -> list[str]:
    """The command that runs this agent again with the same options (for a self-update)."""
    argv = [
        sys.executable,
        "-m",
        "dockyard",
        "agent",
        "--endpoint",
        args.endpoint,
        "--cluster",
        args.cluster,
        "--state-dir",
        str(Path(args.state_dir).resolve()),
        "--region",
        args.region,
        "--log-level",
        args.log_level,
    ]
    if args.driver:
        argv += ["--driver", args.driver]
    if args.availability_zone:
        argv += ["--availability-zone", args.availability_zone]
    if args.fargate_capacity:
        argv.append("--fargate-capacity")
    if args.allow_host_commands:
        argv.append("--allow-host-commands")
    argv += ["--task-cleanup-wait", f"{args.task_cleanup_wait}s"]
    if args.reserved_ports:
        argv += ["--reserved-ports", ",".join(map(str, args.reserved_ports))]
    if args.reserved_udp_ports:
        argv += ["--reserved-udp-ports", ",".join(map(str, args.reserved_udp_ports))]
    return argv


def replace_process(replacement: Replacement) -> None:
    """Become the staged agent: same pid, same open stdout/stderr (does not return)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(replacement.executable, list(replacement.argv), dict(replacement.env))


def run_agent(args: argparse.Namespace) -> None:
    """Run the agent until SIGTERM/SIGINT; exits 0 after a clean stop."""
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("dockyard.agent").setLevel(args.log_level.upper())
    if not args.endpoint:
        sys.exit("dockyard agent: --endpoint (or $DOCKYARD_ENDPOINT) is required")
    tune_for_long_running()
    if args.hollow is not None:
        from dockyard.agent.hollow import run_hollow

        # One "connected" line per instance would drown everything else.
        channel_log = logging.getLogger("dockyard.agent.channel")
        channel_log.setLevel(max(logging.WARNING, channel_log.getEffectiveLevel()))
        try:
            asyncio.run(_run(functools.partial(run_hollow, hollow_config(args))))
        except ValueError as error:
            sys.exit(f"dockyard agent: {error}")
        return
    failed: list[str] = []
    while True:
        config = AgentConfig(
            endpoint=args.endpoint.rstrip("/"),
            cluster=args.cluster,
            state_dir=Path(args.state_dir),
            driver=args.driver,
            region=args.region,
            availability_zone=args.availability_zone,
            fargate_capacity=args.fargate_capacity,
            reserved_tcp=args.reserved_ports,
            reserved_udp=args.reserved_udp_ports,
            task_cleanup_wait=args.task_cleanup_wait,
            allow_host_commands=args.allow_host_commands,
            argv=agent_argv(args),
            failed_updates=tuple(failed),
        )
        agent = Agent(config)
        try:
            asyncio.run(_run(agent.run))
        except (StateDirBusy, AgentStartError) as error:
            sys.exit(f"dockyard agent: {error}")
        if agent.replacement is None:
            return
        try:
            replace_process(agent.replacement)
        except OSError as error:  # run on with the old code; the next offer is answered FAILED
            log.error("cannot start the updated agent: %s", error)
            failed.append(agent.replacement.version)
