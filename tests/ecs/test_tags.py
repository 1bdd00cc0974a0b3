"""Tagging (TagResource, UntagResource, ListTagsForResource) through boto3 against a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.harness import CLIENT_CONFIG, Credentials, DockyardServer


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs.items()]


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


def listed(ecs: Any, arn: str) -> list[dict[str, str]]:
    return list(ecs.list_tags_for_resource(resourceArn=arn)["tags"])


@pytest.fixture
def cluster_arn(ecs: Any) -> str:
    return str(ecs.create_cluster(clusterName="tagged", tags=tags(team="a"))["cluster"]["clusterArn"])


def test_list_tags_for_resource_shows_the_tags_given_at_creation(ecs: Any, cluster_arn: str) -> None:
    assert listed(ecs, cluster_arn) == tags(team="a")
    untagged = ecs.create_cluster(clusterName="plain")["cluster"]["clusterArn"]
    assert listed(ecs, untagged) == []


def test_tag_resource_adds_tags_and_replaces_values_of_existing_keys(ecs: Any, cluster_arn: str) -> None:
    ecs.tag_resource(resourceArn=cluster_arn, tags=tags(env="prod", team="b"))
    assert listed(ecs, cluster_arn) == tags(team="b", env="prod")
    described = ecs.describe_clusters(clusters=[cluster_arn], include=["TAGS"])["clusters"][0]
    assert described["tags"] == tags(team="b", env="prod")


def test_tag_values_may_be_empty_and_use_the_allowed_characters(ecs: Any, cluster_arn: str) -> None:
    given = tags(empty="", **{"spaces and + - = . _ : / @": "é ü 1", "k" * 128: "v" * 256})
    ecs.tag_resource(resourceArn=cluster_arn, tags=given)
    assert listed(ecs, cluster_arn) == tags(team="a") + given


def test_tag_resource_with_no_tags_changes_nothing(ecs: Any, cluster_arn: str) -> None:
    ecs.tag_resource(resourceArn=cluster_arn, tags=[])
    assert listed(ecs, cluster_arn) == tags(team="a")


def test_untag_resource_removes_keys_and_ignores_absent_ones(ecs: Any, cluster_arn: str) -> None:
    ecs.tag_resource(resourceArn=cluster_arn, tags=tags(env="prod", owner="me"))
    ecs.untag_resource(resourceArn=cluster_arn, tagKeys=["env", "never-there"])
    assert listed(ecs, cluster_arn) == tags(team="a", owner="me")
    ecs.untag_resource(resourceArn=cluster_arn, tagKeys=["team", "owner"])
    assert listed(ecs, cluster_arn) == []


def test_a_resource_holds_at_most_fifty_tags(ecs: Any, cluster_arn: str) -> None:
    ecs.tag_resource(resourceArn=cluster_arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(49)])
    assert len(listed(ecs, cluster_arn)) == 50
    # Replacing values of keys it already has is fine at the limit; one more key is not.
    ecs.tag_resource(resourceArn=cluster_arn, tags=tags(team="b", k0="w"))
    with pytest.raises(ClientError) as excinfo:
        ecs.tag_resource(resourceArn=cluster_arn, tags=tags(team="c", extra="x"))
    assert error_code(excinfo) == "InvalidParameterException"
    after = listed(ecs, cluster_arn)
    assert len(after) == 50 and {"key": "team", "value": "b"} in after


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param([{"key": "aws:owner", "value": "x"}], id="reserved aws: prefix"),
        pytest.param([{"key": "AWS:Owner", "value": "x"}], id="reserved prefix in upper case"),
        pytest.param([{"key": "", "value": "x"}], id="empty key"),
        pytest.param([{"value": "x"}], id="no key"),
        pytest.param([{"key": "k" * 129, "value": "x"}], id="key of 129 characters"),
        pytest.param([{"key": "k", "value": "v" * 257}], id="value of 257 characters"),
        pytest.param([{"key": "semi;colon", "value": "x"}], id="key with a semicolon"),
        pytest.param([{"key": "k", "value": "a*b"}], id="value with an asterisk"),
        pytest.param([{"key": f"k{i}", "value": "v"} for i in range(51)], id="51 tags at once"),
    ],
)
def test_tag_resource_refuses_bad_tags(
    server: Any, account: Any, ecs: Any, cluster_arn: str, bad: list[dict[str, str]]
) -> None:
    with pytest.raises(ClientError) as excinfo:
        unvalidated(server, account).tag_resource(resourceArn=cluster_arn, tags=bad)
    assert error_code(excinfo) == "InvalidParameterException"
    assert listed(ecs, cluster_arn) == tags(team="a")


@pytest.mark.parametrize("key", ["aws:owner", "", "k" * 129])
def test_untag_resource_refuses_bad_keys(
    server: Any, account: Any, ecs: Any, cluster_arn: str, key: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        unvalidated(server, account).untag_resource(resourceArn=cluster_arn, tagKeys=[key])
    assert error_code(excinfo) == "InvalidParameterException"


MALFORMED = [
    pytest.param("not-an-arn", id="not an ARN"),
    pytest.param("arn:aws:ecr:us-east-1:123456789012:repository/web", id="ARN of another service"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:cluster", id="no resource id"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:cluster/bad name", id="bad cluster name"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:service/web/api", id="type not taggable yet"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:nonsense/x", id="unknown type"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:task-definition/web", id="no revision"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:task-definition/web:0", id="revision 0"),
    pytest.param("arn:aws:ecs:us-east-1:123456789012:task-definition/web:x", id="revision not a number"),
]


def calls(ecs: Any, arn: str) -> list[Callable[[], Any]]:
    """One call of each tagging action on ``arn``."""
    return [
        lambda: ecs.tag_resource(resourceArn=arn, tags=tags(a="b")),
        lambda: ecs.untag_resource(resourceArn=arn, tagKeys=["team"]),
        lambda: ecs.list_tags_for_resource(resourceArn=arn),
    ]


@pytest.mark.parametrize("arn", MALFORMED)
def test_a_malformed_or_untaggable_arn_is_invalid(ecs: Any, arn: str) -> None:
    for call in calls(ecs, arn):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "InvalidParameterException"


def test_a_cluster_that_does_not_exist_is_cluster_not_found(ecs: Any, account: Any) -> None:
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    for name in ("never", "gone"):
        arn = f"arn:aws:ecs:us-east-1:{account.account_id}:cluster/{name}"
        for call in calls(ecs, arn):
            with pytest.raises(ClientError) as excinfo:
                call()
            assert error_code(excinfo) == "ClusterNotFoundException"


def test_a_task_definition_that_does_not_exist_is_resource_not_found(ecs: Any, account: Any) -> None:
    arn = f"arn:aws:ecs:us-east-1:{account.account_id}:task-definition/never:1"
    for call in calls(ecs, arn):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ResourceNotFoundException"


def test_one_account_cannot_see_or_tag_anothers_cluster(server: Any, ecs: Any, cluster_arn: str) -> None:
    other = server.client(server.new_account())
    # Even a cluster of the same name in their account is a different resource.
    other.create_cluster(clusterName="tagged")
    for call in calls(other, cluster_arn):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ClusterNotFoundException"
    assert listed(ecs, cluster_arn) == tags(team="a")


def test_a_cluster_arn_of_another_region_is_cluster_not_found(
    server: Any, account: Any, ecs: Any, cluster_arn: str
) -> None:
    west = server.client(account, region="us-west-2")
    west.create_cluster(clusterName="tagged")
    for call in calls(west, cluster_arn):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ClusterNotFoundException"
    assert listed(ecs, cluster_arn) == tags(team="a")


def register_task_definition(ecs: Any, **extra: Any) -> str:
    """A task definition's ARN; skips the test while RegisterTaskDefinition is not served."""
    try:
        registered = ecs.register_task_definition(
            family="web",
            containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}],
            **extra,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "UnsupportedFeatureException":
            pytest.skip("RegisterTaskDefinition is not implemented yet")
        raise
    return str(registered["taskDefinition"]["taskDefinitionArn"])


def test_task_definitions_are_tagged_by_their_revision_arn(server: Any, ecs: Any) -> None:
    first = register_task_definition(ecs, tags=tags(team="a"))
    second = register_task_definition(ecs)
    assert first.endswith(":task-definition/web:1") and second.endswith(":task-definition/web:2")
    assert listed(ecs, first) == tags(team="a")
    ecs.tag_resource(resourceArn=second, tags=tags(env="prod"))
    ecs.tag_resource(resourceArn=first, tags=tags(team="b"))
    ecs.untag_resource(resourceArn=second, tagKeys=["absent"])
    assert listed(ecs, first) == tags(team="b")
    assert listed(ecs, second) == tags(env="prod")
    described = ecs.describe_task_definition(taskDefinition="web:2", include=["TAGS"])
    assert described["tags"] == tags(env="prod")
    other = server.client(server.new_account())
    for call in calls(other, first):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ResourceNotFoundException"
