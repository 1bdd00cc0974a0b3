"""The ``dockyard`` command line: every flag explained, ``up``'s closing lines, ``down``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.cli import build_parser
from dockyard.identity.keys import AccessKey
from dockyard.local import stop_local_tasks, summary


def parsers(
    parser: argparse.ArgumentParser, name: str = "dockyard"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, sub in action.choices.items():
                yield from parsers(sub, f"{name} {verb}")


def test_every_flag_and_argument_has_help_text() -> None:
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, parser in parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert missing == []


KEY = AccessKey("AKIAEXAMPLE", "secret-example", "123456789012", "admin", "Active", 0.0)


def test_the_first_start_ends_with_the_endpoint_and_the_key() -> None:
    lines = summary("http://127.0.0.1:5566", "us-east-1", Path("/data"), KEY).splitlines()
    assert lines[0] == lines[-1] == "=" * 72  # clearly marked
    assert "Dockyard is up: http://127.0.0.1:5566" in lines[1]
    assert "  export AWS_ACCESS_KEY_ID=AKIAEXAMPLE" in lines
    assert "  export AWS_SECRET_ACCESS_KEY=secret-example" in lines
    assert "Console: http://127.0.0.1:5566/console (sign in with the access key)" in lines


def test_a_later_start_says_where_the_key_was_printed() -> None:
    text = summary("http://127.0.0.1:5566", "us-east-1", Path("/data"), None)
    assert "printed at the first start of /data" in text
    assert "dockyard keys create --data-dir /data" in text
    assert "secret" not in text.lower().replace("aws_secret", "")


def test_down_on_a_data_dir_without_an_agent_stops_nothing(tmp_path: Path) -> None:
    assert stop_local_tasks(tmp_path) == 0


@pytest.mark.parametrize("verb", ["up", "down", "server", "agent", "logs"])
def test_each_verb_explains_itself(verb: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([verb, "--help"])
    assert exit_info.value.code == 0
