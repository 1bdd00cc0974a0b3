"""Account settings: PutAccountSetting, PutAccountSettingDefault, DeleteAccountSetting,
ListAccountSettings, and the effective value other actions consult.

A setting resolves as ECS resolves it: the principal's own value, else the account default
(set by PutAccountSettingDefault), else the AWS default below.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.context import RequestContext
from dockyard.errors import InvalidParameterException
from dockyard.store import direct
from dockyard.store.expressions import in_params, in_values
from dockyard.store.pagination import page_limit
from dockyard.store.schema import account_settings

ACCOUNT_DEFAULT = ""  # principal_arn of an account-wide default
INVALID_VALUE = "Invalid setting 'value'"  # ECS's words for a value a setting does not take

_ON_OFF = ("enabled", "disabled")
# name -> (AWS default, allowed values)
SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "serviceLongArnFormat": ("enabled", _ON_OFF),
    "taskLongArnFormat": ("enabled", _ON_OFF),
    "containerInstanceLongArnFormat": ("enabled", _ON_OFF),
    "awsvpcTrunking": ("disabled", _ON_OFF),
    "containerInsights": ("disabled", ("enabled", "disabled", "enhanced")),
    "dualStackIPv6": ("disabled", _ON_OFF),
    "fargateFIPSMode": ("disabled", _ON_OFF),
    "fargateTaskRetirementWaitPeriod": ("7", ("0", "7", "14")),
    "tagResourceAuthorization": ("on", ("on", "off")),
    "guardDutyActivate": ("off", ("on", "off")),
    "defaultLogDriverMode": ("non-blocking", ("blocking", "non-blocking")),
    "fargateEventWindows": ("disabled", _ON_OFF),
}
# Settings only the account default may change.
_ACCOUNT_ONLY = frozenset(
    {
        "fargateFIPSMode",
        "fargateTaskRetirementWaitPeriod",
        "guardDutyActivate",
        "defaultLogDriverMode",
        "fargateEventWindows",
    }
)


def _root_arn(ctx: RequestContext) -> str:
    return f"arn:aws:iam::{ctx.account_id}:root"


def _check(name: str, value: str | None = None) -> None:
    if name not in SETTINGS:
        raise InvalidParameterException(f"Unknown account setting name: {name}")
    if value is not None and value not in SETTINGS[name][1]:
        raise InvalidParameterException(INVALID_VALUE)


def _principal(ctx: RequestContext, principal_arn: str | None) -> str:
    assert ctx.identity is not None
    principal = principal_arn or ctx.identity.principal_arn
    return ACCOUNT_DEFAULT if principal == _root_arn(ctx) else principal


def _stored(
    ctx: RequestContext, principals: list[str], name: str | None = None
) -> dict[tuple[str, str], str]:
    values = {
        "account": ctx.account_id,
        "region": ctx.region,
        "name": name,
        **in_values("principal", principals),
    }
    rows = direct.fetch(ctx.conn, _stored_statement(len(principals), name is not None), values)
    return {(row.principal_arn, row.name): row.value for row in rows}


@functools.lru_cache(maxsize=16)
def _stored_statement(principals: int, by_name: bool) -> Select[Any]:
    query = select(account_settings).where(
        account_settings.c.account_id == bindparam("account"),
        account_settings.c.region == bindparam("region"),
        in_params(account_settings.c.principal_arn, "principal", principals),
    )
    return query.where(account_settings.c.name == bindparam("name")) if by_name else query


# Built once: RunTask and the other creating actions resolve a setting on every call, and
# building the statement (and its cache key) cost SQLAlchemy more than running it.
_IN_FORCE = select(account_settings.c.principal_arn, account_settings.c.value).where(
    account_settings.c.account_id == bindparam("account"),
    account_settings.c.region == bindparam("region"),
    account_settings.c.name == bindparam("name"),
    account_settings.c.principal_arn.in_([bindparam("principal"), bindparam("account_default")]),
)


def effective_value(ctx: RequestContext, name: str, principal_arn: str | None = None) -> str:
    """The value of ``name`` in force for the principal (the caller by default)."""
    principal = _principal(ctx, principal_arn)
    stored: dict[str, str] = dict(
        direct.fetch(
            ctx.conn,
            _IN_FORCE,
            {
                "account": ctx.account_id,
                "region": ctx.region,
                "name": name,
                "principal": principal,
                "account_default": ACCOUNT_DEFAULT,
            },
        ).all()
    )
    return stored.get(principal) or stored.get(ACCOUNT_DEFAULT) or SETTINGS[name][0]


def long_arn_format(ctx: RequestContext, name: str) -> bool:
    """Whether new resources of this kind get the long ARN form (``.../<cluster>/<id>``)."""
    return effective_value(ctx, name) == "enabled"


def _render(ctx: RequestContext, name: str, value: str, principal: str) -> dict[str, str]:
    return {
        "name": name,
        "value": value,
        "principalArn": principal or _root_arn(ctx),
        "type": "user",
    }


def _upsert(ctx: RequestContext, principal: str, name: str, value: str) -> None:
    dialect = postgresql if ctx.conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(account_settings).values(
        account_id=ctx.account_id, region=ctx.region, principal_arn=principal, name=name, value=value
    )
    ctx.conn.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "region", "principal_arn", "name"],
            set_={"value": value},
        )
    )


def put_account_setting(
    ctx: RequestContext, *, name: str, value: str, principal_arn: str | None = None
) -> dict[str, Any]:
    _check(name, value)
    principal = _principal(ctx, principal_arn)
    if name in _ACCOUNT_ONLY and principal != ACCOUNT_DEFAULT:
        raise InvalidParameterException(
            f"{name} can only be changed for the account, with PutAccountSettingDefault."
        )
    _upsert(ctx, principal, name, value)
    return {"setting": _render(ctx, name, value, principal)}


def put_account_setting_default(ctx: RequestContext, *, name: str, value: str) -> dict[str, Any]:
    _check(name, value)
    _upsert(ctx, ACCOUNT_DEFAULT, name, value)
    return {"setting": _render(ctx, name, value, ACCOUNT_DEFAULT)}


def delete_account_setting(
    ctx: RequestContext, *, name: str, principal_arn: str | None = None
) -> dict[str, Any]:
    _check(name)
    principal = _principal(ctx, principal_arn)
    value = _stored(ctx, [principal], name).get((principal, name))
    if value is None:
        raise InvalidParameterException(f"No setting {name} is set for {principal or 'the account'}.")
    ctx.conn.execute(
        delete(account_settings).where(
            account_settings.c.account_id == ctx.account_id,
            account_settings.c.region == ctx.region,
            account_settings.c.principal_arn == principal,
            account_settings.c.name == name,
        )
    )
    return {"setting": _render(ctx, name, value, principal)}


def list_account_settings(
    ctx: RequestContext,
    *,
    name: str | None = None,
    value: str | None = None,
    principal_arn: str | None = None,
    effective_settings: bool = False,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    if name is not None:
        _check(name)
    limit = page_limit(max_results, default=10, maximum=10)
    principal = _principal(ctx, principal_arn)
    stored = _stored(ctx, [principal, ACCOUNT_DEFAULT])
    settings = []
    for setting_name in sorted(SETTINGS):
        if name is not None and setting_name != name:
            continue
        own = stored.get((principal, setting_name))
        if effective_settings:
            account = stored.get((ACCOUNT_DEFAULT, setting_name))
            current = own or account or SETTINGS[setting_name][0]
            owner = principal if own else ACCOUNT_DEFAULT
        elif own is not None:
            current, owner = own, principal
        else:
            continue
        if value is None or current == value:
            settings.append(_render(ctx, setting_name, current, owner))
    # The whole list is a dozen settings at most: a page is a slice of it by name.
    scope = ("ListAccountSettings", ctx.account_id, ctx.region, name, value, principal, effective_settings)
    after = ctx.tokens.open(next_token, scope)[0] if next_token else ""
    remaining = [setting for setting in settings if setting["name"] > after]
    result: dict[str, Any] = {"settings": remaining[:limit]}
    if len(remaining) > limit:
        result["nextToken"] = ctx.tokens.seal([remaining[limit - 1]["name"]], scope)
    return result
