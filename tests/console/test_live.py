"""The console's event streams (/console/live) against a real server: who may open one, that a
change made through the API is announced, the bounds, and a server that stops with one open."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.console.live import STREAMS_PER_SESSION, Subject, subject_of
from tests.console.client import ConsoleClient
from tests.harness import Credentials, DockyardServer, wait_for

READ_SECONDS = 30  # every read of a stream is bounded: a missing event fails, never hangs


class Stream:
    """One open event stream, read event by event."""

    def __init__(self, console: ConsoleClient, page: str, stamp: str = "") -> None:
        parts = urllib.parse.urlsplit(console.base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=READ_SECONDS)
        cookie = "; ".join(f"{c.name}={c.value}" for c in console.jar)
        query = urllib.parse.urlencode({"page": page, "stamp": stamp})
        self.connection.request("GET", f"/console/live?{query}", headers={"Cookie": cookie})
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def event(self) -> dict[str, str]:
        """The next event (its fields; a comment counts as one with a "comment" field)."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            if line == "":
                raise EOFError("the stream ended")
            if line in ("\n", "\r\n"):
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                fields["comment"] = line[1:].strip()
                continue
            name, _, value = line.rstrip("\n").partition(":")
            fields[name] = value.strip()

    def next_named(self, name: str, limit: int = 20) -> dict[str, str]:
        for _ in range(limit):
            event = self.event()
            if event.get("event") == name:
                return event
        raise AssertionError(f"no {name!r} event in {limit} events")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def console(server: DockyardServer, account: Credentials) -> ConsoleClient:
    client = ConsoleClient(server)
    assert client.sign_in(account).status == 303
    return client


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


@pytest.mark.parametrize(
    ("page", "subject"),
    [
        ("/console/clusters", Subject("1", "r", "account")),
        ("/console/task-definitions/web/3?diff=2", Subject("1", "r", "account")),
        ("/console/clusters/shop?tab=tasks", Subject("1", "r", "cluster", ("shop",))),
        ("/console/clusters/shop/services/api", Subject("1", "r", "cluster", ("shop",))),
        ("/console/clusters/shop/tasks/abc", Subject("1", "r", "task", ("shop", "abc"))),
        ("/console/jobs", Subject("1", "r", "jobs")),
        ("/console/jobs/upgrade-1", Subject("1", "r", "job", ("upgrade-1",))),
        ("/console/signin", None),
        ("/elsewhere", None),
        ("", None),
    ],
)
def test_what_a_page_watches(page: str, subject: Subject | None) -> None:
    assert subject_of(page, "1", "r") == subject


def test_a_stream_without_a_session_is_refused(server: DockyardServer) -> None:
    stream = Stream(ConsoleClient(server), "/console/clusters")
    assert stream.status == 403
    stream.close()


def test_a_change_made_through_the_api_is_announced(
    console: ConsoleClient, ecs: Any, streams: list[Stream]
) -> None:
    ecs.create_cluster(clusterName="watched")
    streams.append(stream := Stream(console, "/console/clusters/watched"))
    assert stream.status == 200
    assert stream.response.getheader("content-type", "").startswith("text/event-stream")
    assert stream.event() == {"retry": "3000"}
    ecs.register_task_definition(
        family="quiet", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}]
    )
    ecs.create_service(cluster="watched", serviceName="api", taskDefinition="quiet", desiredCount=0)
    assert stream.next_named("changed")["data"] == "1"
    ecs.update_service(cluster="watched", service="api", desiredCount=0, forceNewDeployment=True)
    assert stream.next_named("changed")["data"] == "2"


def test_a_change_before_the_stream_opened_is_announced_at_once(
    console: ConsoleClient, ecs: Any, streams: list[Stream]
) -> None:
    """The page carries the stamp it was rendered at: a change between the render and the
    stream's opening is the stream's first event; an unchanged page gets none."""

    def stamp(path: str) -> str:
        found = re.search(r'data-live-stamp="([0-9a-f]+)"', console.get(path).text)
        assert found, "the page's stamp"
        return found.group(1)

    ecs.create_cluster(clusterName="early")
    rendered = stamp("/console/clusters/early")
    assert stamp("/console/clusters/early") == rendered  # nothing changed: the same stamp
    ecs.register_task_definition(
        family="early", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}]
    )
    ecs.create_service(cluster="early", serviceName="api", taskDefinition="early", desiredCount=0)
    streams.append(stream := Stream(console, "/console/clusters/early", rendered))
    assert stream.event() == {"retry": "3000"}
    assert stream.event() == {"event": "changed", "data": "1"}

    current = stamp("/console/clusters/early")
    assert current != rendered
    streams.append(quiet := Stream(console, "/console/clusters/early", current))
    assert quiet.event() == {"retry": "3000"}
    ecs.update_service(cluster="early", service="api", desiredCount=0, forceNewDeployment=True)
    assert quiet.event() == {"event": "changed", "data": "1"}  # this change, not a stale one


def test_another_accounts_change_is_not_announced_first(
    server: DockyardServer, console: ConsoleClient, ecs: Any, streams: list[Stream]
) -> None:
    """A stream watches its own account: another's change is no event; its own next one is #1."""
    other = server.client(server.new_account())
    streams.append(stream := Stream(console, "/console/clusters"))
    assert stream.event() == {"retry": "3000"}
    other.create_cluster(clusterName="theirs")
    ecs.create_cluster(clusterName="ours")
    assert stream.next_named("changed")["data"] == "1"


def test_streams_per_session_are_bounded(console: ConsoleClient, streams: list[Stream]) -> None:
    for _ in range(STREAMS_PER_SESSION):
        streams.append(stream := Stream(console, "/console/clusters"))
        assert stream.status == 200
    streams.append(refused := Stream(console, "/console/clusters"))
    assert refused.status == 429
    streams.pop(0).close()  # one page left: its place is free again (once the server saw it go)

    def reopened() -> bool:
        stream = Stream(console, "/console/clusters")
        if stream.status == 200:
            streams.append(stream)
            return True
        stream.close()
        return False

    wait_for(reopened, message="for the closed stream's place to be freed")


def test_a_server_with_an_open_stream_stops_promptly(tmp_path: Path) -> None:
    server = DockyardServer(data_dir=tmp_path / "stopping").start()
    try:
        client = ConsoleClient(server)
        assert client.sign_in(server.new_account()).status == 303
        stream = Stream(client, "/console/clusters")
        assert stream.event() == {"retry": "3000"}
        assert server.stop() == 0  # stop() waits at most 20 s: uvicorn must not wait on the stream
        with pytest.raises((EOFError, ConnectionError)):
            stream.event()
        stream.close()
    finally:
        if server.process is not None:
            server.process.kill()
            server.process.wait(timeout=60)
