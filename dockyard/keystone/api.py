"""Keystone v3, as much as glanceclient and keystoneauth need: version discovery and
``POST /identity/v3/auth/tokens``.

A Keystone user is a Dockyard access key and a project is its account: the ``password``
method takes the key id as the user (name or id) and the secret as the password, the
``application_credential`` method the key id and secret as the credential's id and secret.
Tokens are signed and stateless (``identity.tokens``): valid an hour, and only while their key
is active.
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from dockyard.errors import ApiError
from dockyard.glance.times import isotime
from dockyard.identity import tokens
from dockyard.identity.keys import AccessKey

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

PREFIX = "/identity"
VERSION = "v3.14"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
DOMAIN = {"id": "default", "name": "Default"}
REGION = "RegionOne"


class KeystoneError(Exception):
    def __init__(self, code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.code, self.title, self.message = code, title, message


def _unauthorized(message: str = "The request you have made requires authentication.") -> KeystoneError:
    return KeystoneError(401, "Unauthorized", message)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _error(error: KeystoneError) -> Response:
    body = {"error": {"code": error.code, "title": error.title, "message": error.message}}
    headers = {"WWW-Authenticate": 'Keystone uri="{}"'} if error.code == 401 else None
    return _json(body, error.code, headers)


class Keystone:
    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.secret = server.server_secret(tokens.SECRET_NAME)

    @property
    def base(self) -> str:
        return self.server.public_url.rstrip("/") + PREFIX

    def version(self) -> dict[str, Any]:
        return {
            "id": VERSION,
            "status": "stable",
            "updated": "2019-01-22T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.base}/v3/"}],
            "media-types": MEDIA_TYPES,
        }

    async def versions(self, _request: Request) -> Response:
        return _json({"versions": {"values": [self.version()]}}, 300)

    async def v3(self, _request: Request) -> Response:
        return _json({"version": self.version()})

    async def create_token(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            key, method = await self._authenticate(body)
            self._check_scope(body, key)
        except KeystoneError as error:
            return self._error(error)
        except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError):
            return self._error(KeystoneError(400, "Bad Request", "Expecting to find auth in the request."))
        signed, token = tokens.issue(
            self.secret, key.access_key_id, key.account_id, key.user_name, method, time.time()
        )
        return _json({"token": self.token_body(token)}, 201, {"X-Subject-Token": signed})

    async def check_token(self, request: Request) -> Response:
        """``GET /v3/auth/tokens``: the token in ``X-Subject-Token``, if it still works."""
        token = self.open(request.headers.get("x-subject-token"))
        if token is None or self.open(request.headers.get("x-auth-token")) is None:
            return self._error(_unauthorized())
        return _json({"token": self.token_body(token)})

    def open(self, value: str | None) -> tokens.Token | None:
        """The token, if signed by this control plane, unexpired and its key still active."""
        token = tokens.read(self.secret, value, time.time())
        if token is None:
            return None
        try:
            key = self.server.access_key(token.access_key_id)
        except ApiError:
            return None
        return token if key.account_id == token.account_id else None

    def _error(self, error: KeystoneError) -> Response:
        response = _error(error)
        if error.code == 401:
            response.headers["WWW-Authenticate"] = f'Keystone uri="{self.base}"'
        return response

    async def _authenticate(self, body: dict[str, Any]) -> tuple[AccessKey, str]:
        identity = body["auth"]["identity"]
        methods = identity.get("methods") or []
        if "password" in methods:
            user = identity["password"]["user"]
            key_id, secret = user.get("id") or user.get("name"), user.get("password")
            method = "password"
        elif "application_credential" in methods:
            credential = identity["application_credential"]
            key_id, secret = credential.get("id") or credential.get("name"), credential.get("secret")
            method = "application_credential"
        else:
            raise _unauthorized("Unsupported authentication method.")
        if not isinstance(key_id, str) or not isinstance(secret, str):
            raise _unauthorized()
        try:
            key = self.server.access_key(key_id)
        except ApiError:
            raise _unauthorized() from None
        if not hmac.compare_digest(key.secret_access_key.encode(), secret.encode()):
            raise _unauthorized()
        return key, method

    @staticmethod
    def _check_scope(body: dict[str, Any], key: AccessKey) -> None:
        """A token is scoped to the key's account: a scope naming another project is refused."""
        project = (body["auth"].get("scope") or {}).get("project")
        if project and (project.get("id") or project.get("name")) != key.account_id:
            raise _unauthorized(f"The key {key.access_key_id} has no access to that project.")

    def token_body(self, token: tokens.Token) -> dict[str, Any]:
        image_url = self.server.public_url.rstrip("/") + "/image"
        return {
            "methods": list(token.methods),
            "user": {
                "id": token.access_key_id,
                "name": token.access_key_id,
                "domain": DOMAIN,
                "password_expires_at": None,
            },
            "project": {"id": token.account_id, "name": token.account_id, "domain": DOMAIN},
            "roles": [{"id": "member", "name": "member"}, {"id": "reader", "name": "reader"}],
            "catalog": [
                _service("image", "glance", image_url),
                _service("identity", "keystone", self.base),
            ],
            "issued_at": isotime(token.issued_at),
            "expires_at": isotime(token.expires_at),
            "audit_ids": [token.audit_id],
        }

    def routes(self) -> Mount:
        return Mount(
            PREFIX,
            routes=[
                Route("/", self.versions, methods=["GET"]),
                Route("/v3", self.v3, methods=["GET"]),
                Route("/v3/", self.v3, methods=["GET"]),
                Route("/v3/auth/tokens", self.create_token, methods=["POST"]),
                Route("/v3/auth/tokens", self.check_token, methods=["GET"]),
            ],
        )


def _service(kind: str, name: str, url: str) -> dict[str, Any]:
    endpoint_id = uuid.uuid5(uuid.NAMESPACE_URL, url).hex
    return {
        "type": kind,
        "name": name,
        "id": uuid.uuid5(uuid.NAMESPACE_URL, kind).hex,
        "endpoints": [
            {"id": endpoint_id, "interface": interface, "region": REGION, "region_id": REGION, "url": url}
            for interface in ("public", "internal")
        ],
    }
