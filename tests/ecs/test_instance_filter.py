"""ListContainerInstances ``filter`` with hostile patterns answers at once on both stores."""

from __future__ import annotations

from typing import Any

from tests.builders import register_instance

EVIL = "a" * 127 + "b"


def test_a_backtracking_regex_does_not_stall_the_server(ecs: Any) -> None:
    ecs.create_cluster()
    arn = register_instance(ecs, attributes=[{"name": "evil", "value": EVIL}])["containerInstanceArn"]
    listed = ecs.list_container_instances(filter="attribute:evil =~ '(a+)+'")
    assert listed["containerInstanceArns"] == []
    listed = ecs.list_container_instances(filter="attribute:evil == '*a*a*a*a*a*a*a*a*a*a*c'")
    assert listed["containerInstanceArns"] == []
    listed = ecs.list_container_instances(filter="attribute:evil =~ '(a+)+b'")
    assert listed["containerInstanceArns"] == [arn]
