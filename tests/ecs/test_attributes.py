"""Attributes (PutAttributes, DeleteAttributes, ListAttributes) through boto3 against a real
server. Container instances do not exist yet, so any well-formed target in the cluster is one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.harness import CLIENT_CONFIG, Credentials, DockyardServer

INSTANCE = "container-instance"


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def instance_id() -> str:
    return uuid.uuid4().hex


def instance_arn(account_id: str, cluster: str, short_id: str, region: str = "us-east-1") -> str:
    return f"arn:aws:ecs:{region}:{account_id}:container-instance/{cluster}/{short_id}"


def attribute(target: str, name: str, value: str | None = None, **extra: Any) -> dict[str, Any]:
    """An Attribute for a short id (with targetType) or, if ``target`` is an ARN, without."""
    found: dict[str, Any] = {"name": name, "targetId": target, **extra}
    if value is not None:
        found["value"] = value
    if not target.startswith("arn:"):
        found.setdefault("targetType", INSTANCE)
    return found


def unvalidated(server: DockyardServer, account: Credentials) -> Any:
    """A client that sends what boto3 would refuse to, so the server's own checks are seen."""
    config = CLIENT_CONFIG.merge(botocore.config.Config(parameter_validation=False))
    return boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=config,
    )


def listed(ecs: Any, **filters: Any) -> list[tuple[str, str, str | None]]:
    attributes = ecs.list_attributes(targetType=INSTANCE, **filters)["attributes"]
    return [(a["targetId"], a["name"], a.get("value")) for a in attributes]


@pytest.fixture
def cluster(ecs: Any) -> str:
    return str(ecs.create_cluster(clusterName="attrs")["cluster"]["clusterName"])


def test_put_attributes_stores_the_target_as_its_full_arn(
    ecs: Any, account: Any, cluster: str
) -> None:
    short = instance_id()
    put = ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    arn = instance_arn(account.account_id, cluster, short)
    assert put["attributes"] == [
        {"name": "stack", "value": "prod", "targetType": INSTANCE, "targetId": arn}
    ]
    assert listed(ecs, cluster=cluster) == [(arn, "stack", "prod")]


@pytest.mark.parametrize(
    "spelling",
    ["short id with targetType", "long ARN", "long ARN with targetType", "old ARN without cluster"],
)
def test_every_spelling_of_a_target_names_the_same_one(
    ecs: Any, account: Any, cluster: str, spelling: str
) -> None:
    short = instance_id()
    arn = instance_arn(account.account_id, cluster, short)
    given = {
        "short id with targetType": attribute(short, "a", "1"),
        "long ARN": attribute(arn, "a", "1"),
        "long ARN with targetType": attribute(arn, "a", "1", targetType=INSTANCE),
        "old ARN without cluster": attribute(
            f"arn:aws:ecs:us-east-1:{account.account_id}:container-instance/{short}", "a", "1"
        ),
    }[spelling]
    ecs.put_attributes(cluster=cluster, attributes=[given])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "b", "2")])
    assert listed(ecs, cluster=cluster) == [(arn, "a", "1"), (arn, "b", "2")]


def test_put_attributes_on_an_existing_name_replaces_its_value(ecs: Any, cluster: str) -> None:
    short = instance_id()
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "dev")])
    assert [value for _, _, value in listed(ecs, cluster=cluster)] == ["dev"]


def test_an_attribute_may_have_no_value(ecs: Any, cluster: str) -> None:
    short = instance_id()
    put = ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "gpu")])
    assert "value" not in put["attributes"][0]
    assert [value for _, _, value in listed(ecs, cluster=cluster)] == [None]


def test_the_cluster_defaults_to_default_and_may_be_an_arn(ecs: Any, account: Any) -> None:
    short = instance_id()
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(attributes=[attribute(short, "a", "1")])
    assert error_code(excinfo) == "ClusterNotFoundException"
    cluster_arn = ecs.create_cluster()["cluster"]["clusterArn"]
    put = ecs.put_attributes(attributes=[attribute(short, "a", "1")])
    assert put["attributes"][0]["targetId"] == instance_arn(account.account_id, "default", short)
    assert listed(ecs, cluster=cluster_arn) == listed(ecs)
    assert len(listed(ecs)) == 1


@pytest.mark.parametrize("action", ["put", "delete", "list"])
def test_an_unknown_or_deleted_cluster_is_cluster_not_found(ecs: Any, action: str) -> None:
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    for cluster in ("never", "gone"):
        with pytest.raises(ClientError) as excinfo:
            if action == "list":
                ecs.list_attributes(cluster=cluster, targetType=INSTANCE)
            else:
                call = ecs.put_attributes if action == "put" else ecs.delete_attributes
                call(cluster=cluster, attributes=[attribute(instance_id(), "a", "1")])
        assert error_code(excinfo) == "ClusterNotFoundException"


@pytest.mark.parametrize("action", ["put_attributes", "delete_attributes"])
@pytest.mark.parametrize(
    "target",
    [
        pytest.param({"name": "a", "value": "1"}, id="no target at all"),
        pytest.param({"name": "a", "targetType": INSTANCE}, id="targetType but no targetId"),
        pytest.param({"name": "a", "targetId": "0123abcd"}, id="short id without targetType"),
        pytest.param(
            {"name": "a", "targetId": "bad id!", "targetType": INSTANCE}, id="malformed id"
        ),
        pytest.param(
            {"name": "a", "targetId": "arn:aws:ecs:us-east-1:123456789012:cluster/attrs"},
            id="ARN of a cluster",
        ),
        pytest.param(
            {"name": "a", "targetId": "arn:aws:ecs:us-east-1:1:container-instance/a/b/c"},
            id="ARN with too many parts",
        ),
    ],
)
def test_a_missing_or_malformed_target_is_invalid(
    ecs: Any, cluster: str, action: str, target: dict[str, Any]
) -> None:
    with pytest.raises(ClientError) as excinfo:
        getattr(ecs, action)(cluster=cluster, attributes=[target])
    assert error_code(excinfo) == "InvalidParameterException"


@pytest.mark.parametrize("elsewhere", ["another cluster", "another account", "another region"])
def test_a_target_outside_the_cluster_is_target_not_found(
    ecs: Any, account: Any, cluster: str, elsewhere: str
) -> None:
    short = instance_id()
    arn = {
        "another cluster": instance_arn(account.account_id, "other", short),
        "another account": instance_arn("000000000001", cluster, short),
        "another region": instance_arn(account.account_id, cluster, short, region="eu-west-1"),
    }[elsewhere]
    for call in (ecs.put_attributes, ecs.delete_attributes):
        with pytest.raises(ClientError) as excinfo:
            call(cluster=cluster, attributes=[attribute(arn, "a", "1")])
        assert error_code(excinfo) == "TargetNotFoundException"
    assert listed(ecs, cluster=cluster) == []


@pytest.mark.parametrize(
    "name", ["", "x" * 129, "has space", "semi;colon", "colon:name", "at@sign", "é"]
)
def test_put_attributes_refuses_bad_names(
    server: Any, account: Any, cluster: str, name: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        unvalidated(server, account).put_attributes(
            cluster=cluster, attributes=[attribute(instance_id(), name, "v")]
        )
    assert error_code(excinfo) == "InvalidParameterException"


@pytest.mark.parametrize(
    "value", ["", "x" * 129, " leading", "trailing ", "semi;colon", "tab\there", "plus+", "é"]
)
def test_put_attributes_refuses_bad_values(ecs: Any, cluster: str, value: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[attribute(instance_id(), "a", value)])
    assert error_code(excinfo) == "InvalidParameterException"
    assert listed(ecs, cluster=cluster) == []


def test_put_attributes_accepts_every_allowed_character(ecs: Any, cluster: str) -> None:
    name = "Az09-_./\\" + "n" * 119
    value = "Az09-_./\\@: x" + "v" * 115
    assert len(name) == len(value) == 128
    ecs.put_attributes(cluster=cluster, attributes=[attribute(instance_id(), name, value)])
    assert [(n, v) for _, n, v in listed(ecs, cluster=cluster)] == [(name, value)]


def test_at_most_ten_attributes_per_request(
    server: Any, account: Any, ecs: Any, cluster: str
) -> None:
    short = instance_id()
    eleven = [attribute(short, f"a{i:02d}", "v") for i in range(11)]
    for action in ("put_attributes", "delete_attributes"):
        with pytest.raises(ClientError) as excinfo:
            getattr(ecs, action)(cluster=cluster, attributes=eleven)
        assert error_code(excinfo) == "InvalidParameterException"
        with pytest.raises(ClientError) as excinfo:
            getattr(unvalidated(server, account), action)(cluster=cluster, attributes=[])
        assert error_code(excinfo) == "InvalidParameterException"
    ecs.put_attributes(cluster=cluster, attributes=eleven[:10])
    assert len(listed(ecs, cluster=cluster)) == 10


def test_at_most_ten_custom_attributes_per_target(ecs: Any, account: Any, cluster: str) -> None:
    full, other = instance_id(), instance_id()
    for start in (0, 5):
        ecs.put_attributes(
            cluster=cluster,
            attributes=[attribute(full, f"a{i}", "v") for i in range(start, start + 5)],
        )
    # One new name too many fails the whole request, and writes none of it.
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(
            cluster=cluster,
            attributes=[attribute(full, "a0", "changed"), attribute(full, "new", "v")],
        )
    assert error_code(excinfo) == "AttributeLimitExceededException"
    assert "new" not in {name for _, name, _ in listed(ecs, cluster=cluster)}
    assert listed(ecs, cluster=cluster, attributeName="a0")[0][2] == "v"
    # Updating names the target already has stays within the limit; other targets are apart.
    ecs.put_attributes(cluster=cluster, attributes=[attribute(full, "a0", "changed")])
    ecs.put_attributes(
        cluster=cluster, attributes=[attribute(other, f"b{i}", "v") for i in range(10)]
    )
    ecs.delete_attributes(cluster=cluster, attributes=[attribute(full, "a9")])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(full, "new", "v")])
    assert len(listed(ecs, cluster=cluster)) == 20


def test_delete_attributes_returns_what_it_deleted(ecs: Any, account: Any, cluster: str) -> None:
    short = instance_id()
    arn = instance_arn(account.account_id, cluster, short)
    ecs.put_attributes(
        cluster=cluster, attributes=[attribute(short, "a", "1"), attribute(short, "b", "2")]
    )
    deleted = ecs.delete_attributes(
        cluster=cluster, attributes=[attribute(arn, "a"), attribute(short, "absent")]
    )["attributes"]
    assert deleted == [{"name": "a", "value": "1", "targetType": INSTANCE, "targetId": arn}]
    assert listed(ecs, cluster=cluster) == [(arn, "b", "2")]
    assert (
        ecs.delete_attributes(cluster=cluster, attributes=[attribute(short, "a")])["attributes"]
        == []
    )


def test_list_attributes_filters_by_name_and_value(ecs: Any, account: Any, cluster: str) -> None:
    first, second = sorted([instance_id(), instance_id()])
    ecs.put_attributes(
        cluster=cluster,
        attributes=[
            attribute(first, "stack", "prod"),
            attribute(second, "stack", "dev"),
            attribute(first, "gpu"),
        ],
    )
    assert [
        short.rsplit("/", 1)[1]
        for short, _, _ in listed(ecs, cluster=cluster, attributeName="stack")
    ] == [first, second]
    assert listed(ecs, cluster=cluster, attributeName="stack", attributeValue="dev") == [
        (instance_arn(account.account_id, cluster, second), "stack", "dev")
    ]
    assert listed(ecs, cluster=cluster, attributeName="nothing") == []


def test_list_attributes_value_needs_a_name(ecs: Any, cluster: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_attributes(cluster=cluster, targetType=INSTANCE, attributeValue="prod")
    assert error_code(excinfo) == "InvalidParameterException"


def test_list_attributes_requires_a_known_target_type(
    server: Any, account: Any, cluster: str
) -> None:
    client = unvalidated(server, account)
    for params in ({}, {"targetType": "task"}):
        with pytest.raises(ClientError) as excinfo:
            client.list_attributes(cluster=cluster, **params)
        assert error_code(excinfo) == "InvalidParameterException"


def test_list_attributes_only_shows_the_clusters_own(ecs: Any, cluster: str) -> None:
    ecs.create_cluster(clusterName="other")
    ecs.put_attributes(cluster=cluster, attributes=[attribute(instance_id(), "mine", "1")])
    ecs.put_attributes(cluster="other", attributes=[attribute(instance_id(), "theirs", "1")])
    assert [name for _, name, _ in listed(ecs, cluster=cluster)] == ["mine"]
    assert [name for _, name, _ in listed(ecs, cluster="other")] == ["theirs"]


def test_list_attributes_pages_through_everything_once(ecs: Any, cluster: str) -> None:
    targets = [instance_id() for _ in range(5)]
    for target in targets:
        ecs.put_attributes(
            cluster=cluster, attributes=[attribute(target, f"n{i}", "v") for i in range(5)]
        )
    seen: list[tuple[str, str, str | None]] = []
    token = None
    while True:
        page = ecs.list_attributes(
            cluster=cluster,
            targetType=INSTANCE,
            maxResults=7,
            **({"nextToken": token} if token else {}),
        )
        assert len(page["attributes"]) <= 7
        seen += [(a["targetId"], a["name"], a.get("value")) for a in page["attributes"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(seen) == 25
    assert seen == sorted(seen, key=lambda item: (item[1], item[0]))
    assert len(set(seen)) == 25
    assert "nextToken" not in ecs.list_attributes(cluster=cluster, targetType=INSTANCE)


def test_a_page_token_only_works_for_its_own_query(server: Any, ecs: Any, cluster: str) -> None:
    ecs.create_cluster(clusterName="other")
    ecs.put_attributes(
        cluster=cluster, attributes=[attribute(instance_id(), f"n{i}", "v") for i in range(3)]
    )
    token = ecs.list_attributes(cluster=cluster, targetType=INSTANCE, maxResults=1)["nextToken"]
    stranger = server.client(server.new_account())
    stranger.create_cluster(clusterName=cluster)
    elsewhere: list[Callable[[], Any]] = [
        lambda: ecs.list_attributes(cluster="other", targetType=INSTANCE, nextToken=token),
        lambda: ecs.list_attributes(
            cluster=cluster, targetType=INSTANCE, attributeName="n1", nextToken=token
        ),
        lambda: stranger.list_attributes(cluster=cluster, targetType=INSTANCE, nextToken=token),
        lambda: ecs.list_attributes(
            cluster=cluster, targetType=INSTANCE, nextToken="bm90LWEtdG9rZW4"
        ),
    ]
    for call in elsewhere:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "InvalidParameterException"


@pytest.mark.parametrize("size", [0, 101])
def test_list_attributes_refuses_page_sizes_outside_1_to_100(
    ecs: Any, cluster: str, size: int
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_attributes(cluster=cluster, targetType=INSTANCE, maxResults=size)
    assert error_code(excinfo) == "InvalidParameterException"


def test_one_account_cannot_see_or_change_anothers_attributes(
    server: Any, ecs: Any, account: Any, cluster: str
) -> None:
    short = instance_id()
    mine = instance_arn(account.account_id, cluster, short)
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    other = server.client(server.new_account())
    cluster_arn = f"arn:aws:ecs:us-east-1:{account.account_id}:cluster/{cluster}"
    with pytest.raises(ClientError) as excinfo:
        other.list_attributes(cluster=cluster_arn, targetType=INSTANCE)
    assert error_code(excinfo) == "ClusterNotFoundException"
    # Even with a cluster of the same name, their ARN-named target is not found.
    other.create_cluster(clusterName=cluster)
    assert other.list_attributes(cluster=cluster, targetType=INSTANCE)["attributes"] == []
    with pytest.raises(ClientError) as excinfo:
        other.delete_attributes(cluster=cluster, attributes=[attribute(mine, "stack")])
    assert error_code(excinfo) == "TargetNotFoundException"
    other.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "theirs")])
    assert listed(ecs, cluster=cluster) == [(mine, "stack", "prod")]
