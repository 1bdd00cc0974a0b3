"""Attributes (PutAttributes, DeleteAttributes, ListAttributes) through boto3 against a real
server. Every target is a container instance registered through the API; registration also
gives each instance built-in ``ecs.*`` attributes, which ListAttributes returns too."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.builders import register_instance
from tests.harness import CLIENT_CONFIG, Credentials, DockyardServer

INSTANCE = "container-instance"
# What RegisterContainerInstance sets on every instance registered by tests.builders.
BUILT_IN = {
    "ecs.ami-id": "ami-0123456789abcdef0",
    "ecs.availability-zone": "us-east-1a",
    "ecs.instance-type": "m5.large",
    "ecs.os-type": "linux",
}

Register = Callable[..., str]


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def unregistered_id() -> str:
    """A well-formed container instance id that no instance has."""
    return uuid.uuid4().hex


def instance_arn(account_id: str, cluster: str, short_id: str, region: str = "us-east-1") -> str:
    return f"arn:aws:ecs:{region}:{account_id}:container-instance/{cluster}/{short_id}"


def old_arn(account_id: str, short_id: str) -> str:
    """The old (short) ARN format, which has no cluster in it."""
    return f"arn:aws:ecs:us-east-1:{account_id}:container-instance/{short_id}"


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


def is_built_in(name: str) -> bool:
    return name.startswith("ecs.")


def listed(ecs: Any, *, built_in: bool = False, **filters: Any) -> list[tuple[str, str, str | None]]:
    """ListAttributes as (target, name, value); the ``ecs.*`` attributes every registered
    instance has are left out unless ``built_in`` (or an attributeName asks for one)."""
    attributes = ecs.list_attributes(targetType=INSTANCE, **filters)["attributes"]
    keep_all = built_in or is_built_in(filters.get("attributeName", ""))
    return [
        (a["targetId"], a["name"], a.get("value"))
        for a in attributes
        if keep_all or not is_built_in(a["name"])
    ]


def short_id(instance: dict[str, Any]) -> str:
    return str(instance["containerInstanceArn"].rsplit("/", 1)[1])


@pytest.fixture
def cluster(ecs: Any) -> str:
    return str(ecs.create_cluster(clusterName="attrs")["cluster"]["clusterName"])


@pytest.fixture
def instance(ecs: Any, cluster: str) -> Register:
    """Registers a container instance (in the test's cluster unless told) and returns its
    short id."""

    def register(in_cluster: str = cluster, **extra: Any) -> str:
        return short_id(register_instance(ecs, cluster=in_cluster, **extra))

    return register


def test_put_attributes_stores_the_target_as_its_full_arn(ecs: Any, account: Any, cluster: str) -> None:
    registered = register_instance(ecs, cluster=cluster)
    short = short_id(registered)
    arn = instance_arn(account.account_id, cluster, short)
    assert registered["containerInstanceArn"] == arn
    put = ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    assert put["attributes"] == [{"name": "stack", "value": "prod", "targetType": INSTANCE, "targetId": arn}]
    assert listed(ecs, cluster=cluster) == [(arn, "stack", "prod")]


@pytest.mark.parametrize(
    "spelling",
    ["short id with targetType", "long ARN", "long ARN with targetType", "old ARN without cluster"],
)
def test_every_spelling_of_a_target_names_the_same_one(
    ecs: Any, account: Any, cluster: str, instance: Register, spelling: str
) -> None:
    short = instance()
    arn = instance_arn(account.account_id, cluster, short)
    given = {
        "short id with targetType": attribute(short, "a", "1"),
        "long ARN": attribute(arn, "a", "1"),
        "long ARN with targetType": attribute(arn, "a", "1", targetType=INSTANCE),
        "old ARN without cluster": attribute(old_arn(account.account_id, short), "a", "1"),
    }[spelling]
    ecs.put_attributes(cluster=cluster, attributes=[given])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "b", "2")])
    assert listed(ecs, cluster=cluster) == [(arn, "a", "1"), (arn, "b", "2")]


def test_put_attributes_on_an_existing_name_replaces_its_value(
    ecs: Any, cluster: str, instance: Register
) -> None:
    short = instance()
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "dev")])
    assert [value for _, _, value in listed(ecs, cluster=cluster)] == ["dev"]


def test_an_attribute_may_have_no_value(ecs: Any, cluster: str, instance: Register) -> None:
    short = instance()
    put = ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "gpu")])
    assert "value" not in put["attributes"][0]
    assert [value for _, _, value in listed(ecs, cluster=cluster)] == [None]


def test_the_cluster_defaults_to_default_and_may_be_an_arn(
    ecs: Any, account: Any, instance: Register
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(attributes=[attribute(instance(), "a", "1")])
    assert error_code(excinfo) == "ClusterNotFoundException"
    cluster_arn = ecs.create_cluster()["cluster"]["clusterArn"]
    short = instance("default")
    put = ecs.put_attributes(attributes=[attribute(short, "a", "1")])
    assert put["attributes"][0]["targetId"] == instance_arn(account.account_id, "default", short)
    assert listed(ecs, cluster=cluster_arn) == listed(ecs)
    assert len(listed(ecs)) == 1


@pytest.mark.parametrize("action", ["put", "delete", "list"])
def test_an_unknown_or_deleted_cluster_is_cluster_not_found(
    ecs: Any, instance: Register, action: str
) -> None:
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    short = instance()  # a real instance, of another cluster
    for cluster in ("never", "gone"):
        with pytest.raises(ClientError) as excinfo:
            if action == "list":
                ecs.list_attributes(cluster=cluster, targetType=INSTANCE)
            else:
                call = ecs.put_attributes if action == "put" else ecs.delete_attributes
                call(cluster=cluster, attributes=[attribute(short, "a", "1")])
        assert error_code(excinfo) == "ClusterNotFoundException"


@pytest.mark.parametrize("action", ["put_attributes", "delete_attributes"])
@pytest.mark.parametrize(
    "target",
    [
        pytest.param({"name": "a", "value": "1"}, id="no target at all"),
        pytest.param({"name": "a", "targetType": INSTANCE}, id="targetType but no targetId"),
        pytest.param({"name": "a", "targetId": "0123abcd"}, id="short id without targetType"),
        pytest.param({"name": "a", "targetId": "bad id!", "targetType": INSTANCE}, id="malformed id"),
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


def test_a_registered_instance_spelled_without_targettype_is_invalid(
    ecs: Any, cluster: str, instance: Register
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[{"name": "a", "targetId": instance()}])
    assert error_code(excinfo) == "InvalidParameterException"
    assert listed(ecs, cluster=cluster) == []


@pytest.mark.parametrize("spelling", ["short id", "long ARN", "old ARN"])
def test_an_instance_that_was_never_registered_is_target_not_found(
    ecs: Any, account: Any, cluster: str, instance: Register, spelling: str
) -> None:
    instance()  # the cluster has instances, just not this one
    never = unregistered_id()
    target = {
        "short id": never,
        "long ARN": instance_arn(account.account_id, cluster, never),
        "old ARN": old_arn(account.account_id, never),
    }[spelling]
    for call in (ecs.put_attributes, ecs.delete_attributes):
        with pytest.raises(ClientError) as excinfo:
            call(cluster=cluster, attributes=[attribute(target, "a", "1")])
        assert error_code(excinfo) == "TargetNotFoundException"
    assert listed(ecs, cluster=cluster) == []


def test_one_unknown_target_fails_the_whole_request(ecs: Any, cluster: str, instance: Register) -> None:
    short = instance()
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(
            cluster=cluster,
            attributes=[attribute(short, "a", "1"), attribute(unregistered_id(), "b", "2")],
        )
    assert error_code(excinfo) == "TargetNotFoundException"
    assert listed(ecs, cluster=cluster) == []


def test_a_deregistered_instance_is_target_not_found(
    ecs: Any, account: Any, cluster: str, instance: Register
) -> None:
    short = instance()
    arn = instance_arn(account.account_id, cluster, short)
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    ecs.deregister_container_instance(cluster=cluster, containerInstance=arn)
    for target in (short, arn, old_arn(account.account_id, short)):
        for call in (ecs.put_attributes, ecs.delete_attributes):
            with pytest.raises(ClientError) as excinfo:
                call(cluster=cluster, attributes=[attribute(target, "stack", "dev")])
            assert error_code(excinfo) == "TargetNotFoundException"


@pytest.mark.parametrize(
    "elsewhere",
    [
        "ARN naming another cluster",
        "instance of another cluster",
        "another account",
        "another region",
    ],
)
def test_a_target_outside_the_cluster_is_target_not_found(
    ecs: Any, account: Any, cluster: str, instance: Register, elsewhere: str
) -> None:
    ecs.create_cluster(clusterName="other")
    short = instance()
    theirs = instance("other")
    arn = {
        # The id is of an instance of this cluster, but the ARN says it is in another.
        "ARN naming another cluster": instance_arn(account.account_id, "other", short),
        # The instance's own ARN, but it is registered in another cluster.
        "instance of another cluster": instance_arn(account.account_id, "other", theirs),
        "another account": instance_arn("000000000001", cluster, short),
        "another region": instance_arn(account.account_id, cluster, short, region="eu-west-1"),
    }[elsewhere]
    for call in (ecs.put_attributes, ecs.delete_attributes):
        with pytest.raises(ClientError) as excinfo:
            call(cluster=cluster, attributes=[attribute(arn, "a", "1")])
        assert error_code(excinfo) == "TargetNotFoundException"
    assert listed(ecs, cluster=cluster) == []
    assert listed(ecs, cluster="other") == []


def test_the_id_of_another_clusters_instance_is_target_not_found(
    ecs: Any, cluster: str, instance: Register
) -> None:
    ecs.create_cluster(clusterName="other")
    theirs = instance("other")
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[attribute(theirs, "a", "1")])
    assert error_code(excinfo) == "TargetNotFoundException"
    assert listed(ecs, cluster="other") == []


@pytest.mark.parametrize("name", ["", "x" * 129, "has space", "semi;colon", "colon:name", "at@sign", "é"])
def test_put_attributes_refuses_bad_names(
    server: Any, account: Any, cluster: str, instance: Register, name: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        unvalidated(server, account).put_attributes(
            cluster=cluster, attributes=[attribute(instance(), name, "v")]
        )
    assert error_code(excinfo) == "InvalidParameterException"


@pytest.mark.parametrize(
    "value", ["", "x" * 129, " leading", "trailing ", "semi;colon", "tab\there", "plus+", "é"]
)
def test_put_attributes_refuses_bad_values(ecs: Any, cluster: str, instance: Register, value: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[attribute(instance(), "a", value)])
    assert error_code(excinfo) == "InvalidParameterException"
    assert listed(ecs, cluster=cluster) == []


def test_put_attributes_accepts_every_allowed_character(ecs: Any, cluster: str, instance: Register) -> None:
    name = "Az09-_./\\" + "n" * 119
    value = "Az09-_./\\@: x" + "v" * 115
    assert len(name) == len(value) == 128
    ecs.put_attributes(cluster=cluster, attributes=[attribute(instance(), name, value)])
    assert [(n, v) for _, n, v in listed(ecs, cluster=cluster)] == [(name, value)]


def test_at_most_ten_attributes_per_request(
    server: Any, account: Any, ecs: Any, cluster: str, instance: Register
) -> None:
    short = instance()
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


def test_at_most_ten_custom_attributes_per_target(ecs: Any, cluster: str, instance: Register) -> None:
    full, other = instance(), instance()
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
    ecs.put_attributes(cluster=cluster, attributes=[attribute(other, f"b{i}", "v") for i in range(10)])
    ecs.delete_attributes(cluster=cluster, attributes=[attribute(full, "a9")])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(full, "new", "v")])
    assert len(listed(ecs, cluster=cluster)) == 20


def test_built_in_attributes_of_registration_are_listed(
    ecs: Any, account: Any, cluster: str, instance: Register
) -> None:
    first = instance(instance_type="c5.xlarge")
    second = instance(attributes=[{"name": "stack", "value": "prod"}])
    first_arn, second_arn = (instance_arn(account.account_id, cluster, s) for s in (first, second))
    everything = listed(ecs, cluster=cluster, built_in=True)
    assert {(target, name, value) for target, name, value in everything} == {
        *((first_arn, name, value) for name, value in BUILT_IN.items()),
        (first_arn, "ecs.instance-type", "c5.xlarge"),
        *((second_arn, name, value) for name, value in BUILT_IN.items()),
        (second_arn, "stack", "prod"),
    } - {(first_arn, "ecs.instance-type", "m5.large")}
    assert sorted(listed(ecs, cluster=cluster, attributeName="ecs.instance-type")) == sorted(
        [
            (first_arn, "ecs.instance-type", "c5.xlarge"),
            (second_arn, "ecs.instance-type", "m5.large"),
        ]
    )
    assert listed(ecs, cluster=cluster, attributeName="ecs.instance-type", attributeValue="c5.xlarge") == [
        (first_arn, "ecs.instance-type", "c5.xlarge")
    ]
    # Attributes given at registration are listed like those put later.
    assert listed(ecs, cluster=cluster) == [(second_arn, "stack", "prod")]
    # And they are the same attributes DescribeContainerInstances shows.
    described = ecs.describe_container_instances(cluster=cluster, containerInstances=[first])
    assert {(a["name"], a.get("value")) for a in described["containerInstances"][0]["attributes"]} == {
        (name, value) for target, name, value in everything if target == first_arn
    }


def test_built_in_attributes_do_not_count_towards_the_limit(
    ecs: Any, cluster: str, instance: Register
) -> None:
    capability = "com.amazonaws.ecs.capability.docker-remote-api.1.44"
    short = instance(attributes=[{"name": capability}])
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, f"a{i}", "v") for i in range(10)])
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "a10", "v")])
    assert error_code(excinfo) == "AttributeLimitExceededException"
    names = {name for _, name, _ in listed(ecs, cluster=cluster, built_in=True)}
    assert names == {*BUILT_IN, capability, *(f"a{i}" for i in range(10))}
    # Built-in names may be put on a full target: they are not custom either.
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "ecs.extra", "v")])
    assert listed(ecs, cluster=cluster, attributeName="ecs.extra")[0][2] == "v"


def test_custom_attributes_given_at_registration_count_towards_the_limit(
    ecs: Any, cluster: str, instance: Register
) -> None:
    short = instance(attributes=[{"name": "team", "value": "core"}])
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[attribute(short, f"a{i}", "v") for i in range(10)])
    assert error_code(excinfo) == "AttributeLimitExceededException"
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, f"a{i}", "v") for i in range(9)])
    assert len(listed(ecs, cluster=cluster)) == 10


def test_an_instance_with_a_short_arn_takes_attributes_by_id_and_arn(
    ecs: Any, account: Any, cluster: str
) -> None:
    ecs.put_account_setting(name="containerInstanceLongArnFormat", value="disabled")
    registered = register_instance(ecs, cluster=cluster)
    arn = registered["containerInstanceArn"]
    short = short_id(registered)
    assert arn == old_arn(account.account_id, short)
    spellings = {
        "id": short,
        "its-arn": arn,
        "long-arn": instance_arn(account.account_id, cluster, short),
    }
    for spelling, target in spellings.items():
        put = ecs.put_attributes(cluster=cluster, attributes=[attribute(target, spelling, "1")])
        assert put["attributes"][0]["targetId"] == arn
    assert listed(ecs, cluster=cluster) == [(arn, name, "1") for name in sorted(spellings)]
    assert {name for _, name, _ in listed(ecs, cluster=cluster, built_in=True)} >= set(BUILT_IN)
    assert all(target == arn for target, _, _ in listed(ecs, cluster=cluster, built_in=True))
    for spelling, target in spellings.items():
        deleted = ecs.delete_attributes(cluster=cluster, attributes=[attribute(target, spelling)])
        assert deleted["attributes"] == [
            {"name": spelling, "value": "1", "targetType": INSTANCE, "targetId": arn}
        ]
    assert listed(ecs, cluster=cluster) == []
    # Its ARN names no cluster, but the request's cluster must still be the instance's.
    ecs.create_cluster(clusterName="other")
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster="other", attributes=[attribute(arn, "a", "1")])
    assert error_code(excinfo) == "TargetNotFoundException"


def test_delete_attributes_returns_what_it_deleted(
    ecs: Any, account: Any, cluster: str, instance: Register
) -> None:
    short = instance()
    arn = instance_arn(account.account_id, cluster, short)
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "a", "1"), attribute(short, "b", "2")])
    deleted = ecs.delete_attributes(
        cluster=cluster, attributes=[attribute(arn, "a"), attribute(short, "absent")]
    )["attributes"]
    assert deleted == [{"name": "a", "value": "1", "targetType": INSTANCE, "targetId": arn}]
    assert listed(ecs, cluster=cluster) == [(arn, "b", "2")]
    assert ecs.delete_attributes(cluster=cluster, attributes=[attribute(short, "a")])["attributes"] == []


def test_list_attributes_filters_by_name_and_value(
    ecs: Any, account: Any, cluster: str, instance: Register
) -> None:
    first, second = sorted([instance(), instance()])
    ecs.put_attributes(
        cluster=cluster,
        attributes=[
            attribute(first, "stack", "prod"),
            attribute(second, "stack", "dev"),
            attribute(first, "gpu"),
        ],
    )
    assert [
        short.rsplit("/", 1)[1] for short, _, _ in listed(ecs, cluster=cluster, attributeName="stack")
    ] == [first, second]
    assert listed(ecs, cluster=cluster, attributeName="stack", attributeValue="dev") == [
        (instance_arn(account.account_id, cluster, second), "stack", "dev")
    ]
    assert listed(ecs, cluster=cluster, attributeName="nothing") == []


def test_list_attributes_value_needs_a_name(ecs: Any, cluster: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_attributes(cluster=cluster, targetType=INSTANCE, attributeValue="prod")
    assert error_code(excinfo) == "InvalidParameterException"


def test_list_attributes_requires_a_known_target_type(server: Any, account: Any, cluster: str) -> None:
    client = unvalidated(server, account)
    for params in ({}, {"targetType": "task"}):
        with pytest.raises(ClientError) as excinfo:
            client.list_attributes(cluster=cluster, **params)
        assert error_code(excinfo) == "InvalidParameterException"


def test_list_attributes_only_shows_the_clusters_own(ecs: Any, cluster: str, instance: Register) -> None:
    ecs.create_cluster(clusterName="other")
    mine, theirs = instance(), instance("other")
    ecs.put_attributes(cluster=cluster, attributes=[attribute(mine, "mine", "1")])
    ecs.put_attributes(cluster="other", attributes=[attribute(theirs, "theirs", "1")])
    assert [name for _, name, _ in listed(ecs, cluster=cluster)] == ["mine"]
    assert [name for _, name, _ in listed(ecs, cluster="other")] == ["theirs"]
    # Built-in attributes too belong to the instance's own cluster.
    assert {t.rsplit("/", 1)[1] for t, _, _ in listed(ecs, cluster=cluster, built_in=True)} == {mine}


def test_list_attributes_pages_through_everything_once(ecs: Any, cluster: str, instance: Register) -> None:
    targets = [instance() for _ in range(5)]
    for target in targets:
        ecs.put_attributes(cluster=cluster, attributes=[attribute(target, f"n{i}", "v") for i in range(5)])
    total = 5 * (5 + len(BUILT_IN))
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
    assert len(seen) == total
    assert seen == sorted(seen, key=lambda item: (item[1], item[0]))
    assert len(set(seen)) == total
    assert len([item for item in seen if not is_built_in(item[1])]) == 25
    assert "nextToken" not in ecs.list_attributes(cluster=cluster, targetType=INSTANCE)


def test_a_page_token_only_works_for_its_own_query(
    server: Any, ecs: Any, cluster: str, instance: Register
) -> None:
    ecs.create_cluster(clusterName="other")
    ecs.put_attributes(cluster=cluster, attributes=[attribute(instance(), f"n{i}", "v") for i in range(3)])
    token = ecs.list_attributes(cluster=cluster, targetType=INSTANCE, maxResults=1)["nextToken"]
    stranger = server.client(server.new_account())
    stranger.create_cluster(clusterName=cluster)
    elsewhere: list[Callable[[], Any]] = [
        lambda: ecs.list_attributes(cluster="other", targetType=INSTANCE, nextToken=token),
        lambda: ecs.list_attributes(
            cluster=cluster, targetType=INSTANCE, attributeName="n1", nextToken=token
        ),
        lambda: stranger.list_attributes(cluster=cluster, targetType=INSTANCE, nextToken=token),
        lambda: ecs.list_attributes(cluster=cluster, targetType=INSTANCE, nextToken="bm90LWEtdG9rZW4"),
    ]
    for call in elsewhere:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "InvalidParameterException"


@pytest.mark.parametrize("size", [0, 101])
def test_list_attributes_refuses_page_sizes_outside_1_to_100(ecs: Any, cluster: str, size: int) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_attributes(cluster=cluster, targetType=INSTANCE, maxResults=size)
    assert error_code(excinfo) == "InvalidParameterException"


def test_one_account_cannot_see_or_change_anothers_attributes(
    server: Any, ecs: Any, account: Any, cluster: str, instance: Register
) -> None:
    short = instance()
    mine = instance_arn(account.account_id, cluster, short)
    ecs.put_attributes(cluster=cluster, attributes=[attribute(short, "stack", "prod")])
    other = server.client(server.new_account())
    cluster_arn = f"arn:aws:ecs:us-east-1:{account.account_id}:cluster/{cluster}"
    with pytest.raises(ClientError) as excinfo:
        other.list_attributes(cluster=cluster_arn, targetType=INSTANCE)
    assert error_code(excinfo) == "ClusterNotFoundException"
    # Even with a cluster of the same name, neither the ARN nor the id of mine is found.
    other.create_cluster(clusterName=cluster)
    assert other.list_attributes(cluster=cluster, targetType=INSTANCE)["attributes"] == []
    for target in (mine, short):
        for call in (other.put_attributes, other.delete_attributes):
            with pytest.raises(ClientError) as excinfo:
                call(cluster=cluster, attributes=[attribute(target, "stack", "theirs")])
            assert error_code(excinfo) == "TargetNotFoundException"
    # Their own instance in their cluster of that name is theirs alone.
    theirs = short_id(register_instance(other, cluster=cluster))
    other.put_attributes(cluster=cluster, attributes=[attribute(theirs, "stack", "theirs")])
    assert listed(ecs, cluster=cluster) == [(mine, "stack", "prod")]
    assert [(t.rsplit("/", 1)[1], n, v) for t, n, v in listed(other, cluster=cluster)] == [
        (theirs, "stack", "theirs")
    ]
