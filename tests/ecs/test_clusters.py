"""Clusters through boto3 against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_create_cluster_without_a_name_creates_default(ecs: Any, account: Any) -> None:
    cluster = ecs.create_cluster()["cluster"]
    assert cluster["clusterName"] == "default"
    assert cluster["clusterArn"] == f"arn:aws:ecs:us-east-1:{account.account_id}:cluster/default"
    assert cluster["status"] == "ACTIVE"
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_create_cluster_is_idempotent_on_the_name(ecs: Any) -> None:
    first = ecs.create_cluster(clusterName="web", tags=[{"key": "team", "value": "a"}])["cluster"]
    again = ecs.create_cluster(clusterName="web")["cluster"]
    assert again["clusterArn"] == first["clusterArn"]
    assert again["tags"] == [{"key": "team", "value": "a"}]
    assert ecs.list_clusters()["clusterArns"] == [first["clusterArn"]]


@pytest.mark.parametrize("name", ["has space", "x" * 256, "dots.not.allowed"])
def test_create_cluster_refuses_bad_names(ecs: Any, name: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.create_cluster(clusterName=name)
    assert error_code(excinfo) == "InvalidParameterException"
    assert ecs.list_clusters()["clusterArns"] == []


def test_describe_clusters_reports_missing_ones_as_failures(ecs: Any, account: Any) -> None:
    ecs.create_cluster(clusterName="a")
    result = ecs.describe_clusters(clusters=["a", "nope"])
    assert [c["clusterName"] for c in result["clusters"]] == ["a"]
    assert result["failures"] == [
        {"arn": f"arn:aws:ecs:us-east-1:{account.account_id}:cluster/nope", "reason": "MISSING"}
    ]


def test_describe_clusters_include_adds_settings_tags_and_statistics(ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName="a", tags=[{"key": "k", "value": "v"}])["cluster"]["clusterArn"]
    plain = ecs.describe_clusters(clusters=[arn])["clusters"][0]
    assert "tags" not in plain and "settings" not in plain and "statistics" not in plain
    full = ecs.describe_clusters(clusters=[arn], include=["TAGS", "SETTINGS", "STATISTICS"])["clusters"][0]
    assert full["tags"] == [{"key": "k", "value": "v"}]
    assert full["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert {"name": "runningEC2TasksCount", "value": "0"} in full["statistics"]


def test_describe_clusters_defaults_to_the_default_cluster(ecs: Any) -> None:
    assert ecs.describe_clusters()["failures"][0]["reason"] == "MISSING"
    ecs.create_cluster()
    assert ecs.describe_clusters()["clusters"][0]["clusterName"] == "default"


def test_a_deleted_cluster_stays_discoverable_as_inactive(ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName="gone")["cluster"]["clusterArn"]
    deleted = ecs.delete_cluster(cluster="gone")["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert ecs.list_clusters()["clusterArns"] == [arn]
    assert ecs.describe_clusters(clusters=["gone"])["clusters"][0]["status"] == "INACTIVE"
    with pytest.raises(ClientError) as excinfo:
        ecs.delete_cluster(cluster="gone")
    assert error_code(excinfo) == "ClusterNotFoundException"
    assert ecs.create_cluster(clusterName="gone")["cluster"]["status"] == "ACTIVE"
    assert ecs.list_clusters()["clusterArns"] == [arn]


def test_an_inactive_cluster_takes_no_work(ecs: Any) -> None:
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    with pytest.raises(ClientError) as excinfo:
        ecs.list_tasks(cluster="gone")
    assert error_code(excinfo) == "ClusterNotFoundException"


def test_delete_unknown_cluster_is_cluster_not_found(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.delete_cluster(cluster="never")
    assert error_code(excinfo) == "ClusterNotFoundException"


def test_list_clusters_pages_with_opaque_tokens(ecs: Any) -> None:
    names = [f"c{i:02d}" for i in range(7)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    seen: list[str] = []
    token = None
    while True:
        page = ecs.list_clusters(maxResults=3, **({"nextToken": token} if token else {}))
        assert len(page["clusterArns"]) <= 3
        seen += [arn.rsplit("/", 1)[1] for arn in page["clusterArns"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names


def test_list_clusters_refuses_a_forged_token(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_clusters(nextToken="bm90LWEtdG9rZW4")
    assert error_code(excinfo) == "InvalidParameterException"


def test_a_token_of_another_account_is_refused(server: Any, ecs: Any) -> None:
    for name in ("a", "b"):
        ecs.create_cluster(clusterName=name)
    token = ecs.list_clusters(maxResults=1)["nextToken"]
    other = server.client(server.new_account())
    with pytest.raises(ClientError) as excinfo:
        other.list_clusters(nextToken=token)
    assert error_code(excinfo) == "InvalidParameterException"


def test_update_cluster_settings_changes_container_insights(ecs: Any) -> None:
    ecs.create_cluster(clusterName="a")
    updated = ecs.update_cluster_settings(
        cluster="a", settings=[{"name": "containerInsights", "value": "enabled"}]
    )["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    described = ecs.describe_clusters(clusters=["a"], include=["SETTINGS"])["clusters"][0]
    assert described["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_update_cluster_stores_the_configuration(ecs: Any) -> None:
    ecs.create_cluster(clusterName="a")
    configuration = {"executeCommandConfiguration": {"logging": "DEFAULT"}}
    updated = ecs.update_cluster(cluster="a", configuration=configuration)["cluster"]
    assert updated["configuration"] == configuration


def test_update_unknown_cluster_is_cluster_not_found(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.update_cluster_settings(
            cluster="nope", settings=[{"name": "containerInsights", "value": "enabled"}]
        )
    assert error_code(excinfo) == "ClusterNotFoundException"


def test_account_default_decides_container_insights_of_new_clusters(ecs: Any) -> None:
    ecs.put_account_setting_default(name="containerInsights", value="enabled")
    cluster = ecs.create_cluster(clusterName="insightful")["cluster"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_one_account_cannot_see_or_touch_another_accounts_cluster(server: Any, ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName="private")["cluster"]["clusterArn"]
    other = server.client(server.new_account())
    assert other.list_clusters()["clusterArns"] == []
    assert other.describe_clusters(clusters=[arn])["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as excinfo:
        other.delete_cluster(cluster=arn)
    assert error_code(excinfo) == "ClusterNotFoundException"
    assert ecs.describe_clusters(clusters=[arn])["clusters"][0]["status"] == "ACTIVE"


def test_regions_are_separate(server: Any, account: Any, ecs: Any) -> None:
    ecs.create_cluster(clusterName="east")
    west = server.client(account, region="us-west-2")
    assert west.list_clusters()["clusterArns"] == []
    arn = west.create_cluster(clusterName="east")["cluster"]["clusterArn"]
    assert arn.startswith("arn:aws:ecs:us-west-2:")


@pytest.mark.parametrize("size", [0, 101])
def test_list_clusters_refuses_page_sizes_outside_1_to_100(ecs: Any, size: int) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_clusters(maxResults=size)
    assert error_code(excinfo) == "InvalidParameterException"
