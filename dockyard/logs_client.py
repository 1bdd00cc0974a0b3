"""``dockyard logs``: fetch a task's output from the control plane with a signed request."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def print_logs(args: argparse.Namespace) -> None:
    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        sys.exit("no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    task_id = args.task.rsplit("/", 1)[-1]
    query = {
        key: value
        for key, value in (("container", args.container), ("timestamps", "1" if args.timestamps else None))
        if value
    }
    url = f"{args.endpoint.rstrip('/')}/_dockyard/logs/{task_id}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(credentials, "ecs", args.region).add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(prepared.headers))) as response:
            sys.stdout.write(response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        sys.exit(f"dockyard logs: {explain(error.code, error.read())}")
    except urllib.error.URLError as error:
        sys.exit(f"dockyard logs: cannot reach {args.endpoint}: {error.reason}")


def explain(status: int, body: bytes) -> str:
    """A server's error as ``ExceptionName: message`` (AWS's JSON error shape), else its status."""
    try:
        error = json.loads(body)
        return f"{error['__type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {body.decode('utf-8', 'replace').strip()}"
