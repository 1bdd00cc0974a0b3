"""``dockyard agent``: run this host's agent in the foreground.

SIGTERM or SIGINT stops the agent cleanly *without* stopping the containers: they keep
running and the next start adopts them.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import sys
from pathlib import Path

from dockyard.agent.agent import Agent, AgentConfig, AgentStartError
from dockyard.agent.state_dir import DEFAULT_STATE_DIR, StateDirBusy


def add_agent_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dockyard agent``."""
    parser.add_argument("--endpoint", default=os.environ.get("DOCKYARD_ENDPOINT"),
                        help="the control plane's URL, e.g. http://10.0.0.5:5566 "
                             "(default: $DOCKYARD_ENDPOINT)")
    parser.add_argument("--cluster", default=os.environ.get("DOCKYARD_CLUSTER", "default"),
                        help="the cluster to join (default: default)")
    parser.add_argument("--state-dir", type=Path,
                        default=os.environ.get("DOCKYARD_AGENT_STATE_DIR") or DEFAULT_STATE_DIR,
                        help=f"where the agent keeps its identity (default: {DEFAULT_STATE_DIR})")
    parser.add_argument("--driver", choices=("docker", "process"),
                        help="docker (default when an engine answers) or process")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION")
                        or os.environ.get("AWS_REGION") or "us-east-1",
                        help="the region to sign requests for (default: $AWS_DEFAULT_REGION)")
    parser.add_argument("--availability-zone", help="reported zone (default: REGION + 'a')")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))


STOP_GRACE_SECONDS = 20.0


async def _run(agent: Agent) -> None:
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
    await agent.run(stop)


def run_agent(args: argparse.Namespace) -> None:
    """Run the agent until SIGTERM/SIGINT; exits 0 after a clean stop."""
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("dockyard.agent").setLevel(args.log_level.upper())
    if not args.endpoint:
        sys.exit("dockyard agent: --endpoint (or $DOCKYARD_ENDPOINT) is required")
    config = AgentConfig(endpoint=args.endpoint.rstrip("/"), cluster=args.cluster,
                         state_dir=Path(args.state_dir), driver=args.driver, region=args.region,
                         availability_zone=args.availability_zone)
    try:
        asyncio.run(_run(Agent(config)))
    except (StateDirBusy, AgentStartError) as error:
        sys.exit(f"dockyard agent: {error}")
