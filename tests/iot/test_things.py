"""Things and thing groups through boto3's ``iot`` client: the user's own, and container
instances and clusters as Dockyard keeps them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import Credentials, DockyardServer
from tests.iot.conftest import register_instances


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_thing_is_created_described_updated_listed_and_deleted(iot: Any, account: Credentials) -> None:
    made = iot.create_thing(thingName="sensor-1", attributePayload={"attributes": {"room": "12"}})
    assert made["thingArn"] == f"arn:aws:iot:us-east-1:{account.account_id}:thing/sensor-1"
    iot.update_thing(thingName="sensor-1", attributePayload={"attributes": {"floor": "2"}, "merge": True})
    described = iot.describe_thing(thingName="sensor-1")
    assert described["attributes"] == {"room": "12", "floor": "2"}
    assert described["version"] == 2
    assert described["thingId"] == made["thingId"]
    assert _error(iot.update_thing, thingName="sensor-1", attributePayload={}, expectedVersion=1) == (
        409,
        "VersionConflictException",
    )
    assert [thing["thingName"] for thing in iot.list_things()["things"]] == ["sensor-1"]
    iot.delete_thing(thingName="sensor-1")
    assert _error(iot.describe_thing, thingName="sensor-1") == (404, "ResourceNotFoundException")


def test_a_duplicate_thing_is_refused(iot: Any) -> None:
    iot.create_thing(thingName="twice")
    assert _error(iot.create_thing, thingName="twice") == (409, "ResourceAlreadyExistsException")


def test_list_things_pages_with_a_token(iot: Any) -> None:
    for index in range(5):
        iot.create_thing(thingName=f"paged-{index}")
    first = iot.list_things(maxResults=2)
    second = iot.list_things(maxResults=2, nextToken=first["nextToken"])
    third = iot.list_things(maxResults=2, nextToken=second["nextToken"])
    names = [t["thingName"] for page in (first, second, third) for t in page["things"]]
    assert names == [f"paged-{index}" for index in range(5)]
    assert "nextToken" not in third
    assert _error(iot.list_things, maxResults=251) == (400, "InvalidRequestException")


def test_a_static_group_takes_and_gives_back_things(iot: Any) -> None:
    iot.create_thing_group(thingGroupName="parent")
    made = iot.create_thing_group(
        thingGroupName="fleet", parentGroupName="parent", thingGroupProperties={"thingGroupDescription": "d"}
    )
    iot.create_thing(thingName="member")
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="member")
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == ["member"]
    assert iot.list_thing_groups_for_thing(thingName="member")["thingGroups"] == [
        {"groupName": "fleet", "groupArn": made["thingGroupArn"]}
    ]
    described = iot.describe_thing_group(thingGroupName="fleet")
    assert described["thingGroupMetadata"]["parentGroupName"] == "parent"
    assert described["thingGroupProperties"] == {"thingGroupDescription": "d"}
    assert (
        iot.update_thing_group(thingGroupName="fleet", thingGroupProperties={"thingGroupDescription": "e"})[
            "version"
        ]
        == 2
    )
    assert [g["groupName"] for g in iot.list_thing_groups(parentGroup="parent")["thingGroups"]] == ["fleet"]
    iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="member")
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == []
    iot.delete_thing_group(thingGroupName="fleet")
    assert _error(iot.describe_thing_group, thingGroupName="fleet") == (404, "ResourceNotFoundException")


def test_container_instances_are_things_in_their_clusters_group(iot: Any, ecs: Any) -> None:
    ids = register_instances(ecs, "web", 2)
    assert sorted(iot.list_things_in_thing_group(thingGroupName="web")["things"]) == sorted(ids)
    thing = iot.describe_thing(thingName=ids[0])
    assert thing["thingTypeName"] == "dockyard-container-instance"
    assert thing["attributes"]["ecs.cluster"] == "web"
    # Dockyard keeps them: users read them only.
    assert _error(iot.delete_thing, thingName=ids[0])[1] == "InvalidRequestException"
    assert _error(iot.remove_thing_from_thing_group, thingGroupName="web", thingName=ids[0])[1] == (
        "InvalidRequestException"
    )
    ecs.deregister_container_instance(cluster="web", containerInstance=ids[0])
    assert iot.list_things_in_thing_group(thingGroupName="web")["things"] == [ids[1]]
    assert _error(iot.describe_thing, thingName=ids[0]) == (404, "ResourceNotFoundException")


def test_another_account_sees_none_of_them(iot: Any, server: DockyardServer) -> None:
    iot.create_thing(thingName="mine")
    iot.create_thing_group(thingGroupName="mine")
    other = server.client(server.new_account(), "iot")
    assert other.list_things()["things"] == []
    assert _error(other.describe_thing, thingName="mine") == (404, "ResourceNotFoundException")
    assert _error(other.list_things_in_thing_group, thingGroupName="mine")[0] == 404


def test_a_dynamic_group_holds_the_things_its_query_matches(iot: Any, ecs: Any) -> None:
    iot.create_thing(thingName="web-a", attributePayload={"attributes": {"tier": "web"}})
    iot.create_thing(thingName="db-a", attributePayload={"attributes": {"tier": "db"}})
    instances = register_instances(ecs, "dyn", 1)
    made = iot.create_dynamic_thing_group(
        thingGroupName="webs", queryString="attributes.tier:web OR thingGroupNames:dyn"
    )
    assert (made["indexName"], made["queryString"]) == (
        "AWS_Things",
        "attributes.tier:web OR thingGroupNames:dyn",
    )
    assert iot.list_things_in_thing_group(thingGroupName="webs")["things"] == sorted(["web-a", instances[0]])
    iot.update_thing(thingName="db-a", attributePayload={"attributes": {"tier": "web"}, "merge": True})
    assert "db-a" in iot.list_things_in_thing_group(thingGroupName="webs")["things"]
    assert {g["groupName"] for g in iot.list_thing_groups_for_thing(thingName="web-a")["thingGroups"]} == {
        "webs"
    }
    described = iot.describe_thing_group(thingGroupName="webs")
    assert described["queryString"] == "attributes.tier:web OR thingGroupNames:dyn"
    assert (
        _error(iot.add_thing_to_thing_group, thingGroupName="webs", thingName="web-a")[1]
        == "InvalidRequestException"
    )
    assert _error(iot.create_dynamic_thing_group, thingGroupName="bad", queryString="color:blue") == (
        400,
        "InvalidQueryException",
    )
    iot.update_dynamic_thing_group(
        thingGroupName="webs", thingGroupProperties={}, queryString="thingName:db-*"
    )
    assert iot.list_things_in_thing_group(thingGroupName="webs")["things"] == ["db-a"]
    iot.delete_dynamic_thing_group(thingGroupName="webs")
    assert _error(iot.describe_thing_group, thingGroupName="webs")[0] == 404


def test_instances_registering_at_once_in_a_new_cluster_share_its_group(iot: Any, ecs: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ecs.create_cluster(clusterName="rush")
    resources = [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
    ]

    def register(_: int) -> str:
        made = ecs.register_container_instance(cluster="rush", totalResources=resources)
        return str(made["containerInstance"]["containerInstanceArn"].rsplit("/", 1)[-1])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(register, range(8)))
    assert sorted(iot.list_things_in_thing_group(thingGroupName="rush")["things"]) == sorted(ids)
