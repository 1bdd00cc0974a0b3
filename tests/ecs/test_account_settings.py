"""Account settings: per-principal values, account defaults and the effective value."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_put_account_setting_applies_to_the_caller(ecs: Any, account: Any) -> None:
    setting = ecs.put_account_setting(name="serviceLongArnFormat", value="disabled")["setting"]
    assert setting == {
        "name": "serviceLongArnFormat",
        "value": "disabled",
        "principalArn": f"arn:aws:iam::{account.account_id}:user/tester",
        "type": "user",
    }
    listed = ecs.list_account_settings()["settings"]
    assert [(s["name"], s["value"]) for s in listed] == [("serviceLongArnFormat", "disabled")]


def test_the_default_applies_to_the_account(ecs: Any, account: Any) -> None:
    setting = ecs.put_account_setting_default(name="taskLongArnFormat", value="disabled")["setting"]
    assert setting["principalArn"] == f"arn:aws:iam::{account.account_id}:root"
    effective = ecs.list_account_settings(name="taskLongArnFormat", effectiveSettings=True)["settings"]
    assert effective[0]["value"] == "disabled"


def test_a_principal_value_beats_the_account_default(ecs: Any) -> None:
    ecs.put_account_setting_default(name="containerInsights", value="enabled")
    ecs.put_account_setting(name="containerInsights", value="disabled")
    effective = ecs.list_account_settings(name="containerInsights", effectiveSettings=True)["settings"]
    assert effective[0]["value"] == "disabled"
    ecs.delete_account_setting(name="containerInsights")
    effective = ecs.list_account_settings(name="containerInsights", effectiveSettings=True)["settings"]
    assert effective[0]["value"] == "enabled"


def test_effective_settings_list_aws_defaults_and_page(ecs: Any) -> None:
    first = ecs.list_account_settings(effectiveSettings=True, maxResults=5)
    assert len(first["settings"]) == 5
    rest = ecs.list_account_settings(effectiveSettings=True, maxResults=10, nextToken=first["nextToken"])
    names = [s["name"] for s in first["settings"] + rest["settings"]]
    assert len(names) == len(set(names)) >= 10
    values = {s["name"]: s["value"] for s in first["settings"] + rest["settings"]}
    assert values["taskLongArnFormat"] == "enabled"
    assert values["containerInsights"] == "disabled"


def test_list_filters_by_value(ecs: Any) -> None:
    ecs.put_account_setting(name="taskLongArnFormat", value="disabled")
    ecs.put_account_setting(name="serviceLongArnFormat", value="enabled")
    listed = ecs.list_account_settings(value="disabled")["settings"]
    assert [s["name"] for s in listed] == ["taskLongArnFormat"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("noSuchSetting", "enabled", "name should be one of [serviceLongArnFormat,"),
        ("taskLongArnFormat", "maybe", "Invalid setting 'value'"),
        ("taskLongArnFormat", "ENABLED", "Invalid setting 'value'"),
        ("containerInsights", "on", "Invalid setting 'value'"),
    ],
    ids=[
        "an unknown name",
        "a value outside on/off",
        "a value in the wrong case",
        "a value containerInsights does not take",
    ],
)
def test_bad_settings_are_refused_in_ecs_words(ecs: Any, name: str, value: str, message: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.put_account_setting(name=name, value=value)
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterException"
    assert excinfo.value.response["Error"]["Message"].startswith(message)


def test_a_bad_cluster_setting_value_is_an_invalid_setting(ecs: Any) -> None:
    ecs.create_cluster(clusterName="insights")
    with pytest.raises(ClientError) as excinfo:
        ecs.update_cluster(cluster="insights", settings=[{"name": "containerInsights", "value": "on"}])
    assert excinfo.value.response["Error"]["Message"] == "Invalid setting 'value'"
    with pytest.raises(ClientError) as excinfo:
        ecs.update_cluster_settings(cluster="insights", settings=[{"name": "noSuch", "value": "on"}])
    assert excinfo.value.response["Error"]["Message"] == "name should be one of [containerInsights]"


def test_deleting_a_setting_that_is_not_set_is_refused(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.delete_account_setting(name="awsvpcTrunking")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterException"


def test_settings_are_per_account(server: Any, ecs: Any) -> None:
    ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")
    other = server.client(server.new_account())
    effective = other.list_account_settings(name="awsvpcTrunking", effectiveSettings=True)["settings"]
    assert effective[0]["value"] == "disabled"
