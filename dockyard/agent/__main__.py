"""``python -m dockyard.agent``: the agent without the ``dockyard`` front command."""

from __future__ import annotations

import argparse

from dockyard.agent.cli import add_agent_arguments, run_agent


def main() -> None:
    parser = argparse.ArgumentParser(prog="dockyard agent", description=__doc__)
    add_agent_arguments(parser)
    run_agent(parser.parse_args())


if __name__ == "__main__":
    main()
