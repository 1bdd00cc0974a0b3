"""Glance tasks end to end: a real server, the real ``glance`` CLI and glanceclient, every
body checked against the schema the server serves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import glanceclient.exc
import pytest

from tests.glance.harness import Schemas, Site, cli, client, request, rootfs_tarball, token_for, wait_task
from tests.harness import Credentials, DockyardServer

PROPERTIES = {"name": "busybox:1.36", "container_format": "docker", "disk_format": "raw"}


def import_input(url: str, **more: object) -> dict[str, object]:
    return {"import_from": url, "import_from_format": "docker", "image_properties": dict(PROPERTIES)} | more


def create(server: DockyardServer, token: str, task_input: dict[str, object], schemas: Schemas) -> str:
    status, headers, raw = request(
        server, "POST", "/image/v2/tasks", token=token, body={"type": "import", "input": task_input}
    )
    assert status == 201, raw
    task = schemas.check(json.loads(raw), "task")
    assert headers["location"] == f"/v2/tasks/{task['id']}"
    assert task["status"] == "pending" and task["expires_at"] is None
    return str(task["id"])


def test_the_cli_imports_a_rootfs_tarball_and_shows_the_task_and_the_image(
    glance_server: DockyardServer, token: str, site: Site, home: Path, schemas: Schemas
) -> None:
    made = cli(
        glance_server,
        home,
        token,
        "task-create",
        "--type",
        "import",
        "--input",
        json.dumps(import_input(f"{site.base}/rootfs.tar")),
    )
    assert made.returncode == 0, made.stderr
    task_id = next(line.split("|")[2].strip() for line in made.stdout.splitlines() if "| id " in line)
    task = schemas.check(wait_task(glance_server, token, task_id), "task")
    assert task["status"] == "success", task["message"]
    assert task["expires_at"] and task["result"]["format"] == "rootfs"
    data = rootfs_tarball()
    image_id = task["result"]["image_id"]
    shown = cli(glance_server, home, token, "image-show", image_id)
    assert shown.returncode == 0, shown.stderr
    assert "active" in shown.stdout and hashlib.md5(data).hexdigest() in shown.stdout
    status, _, raw = request(glance_server, "GET", f"/image/v2/images/{image_id}", token=token)
    image = schemas.check(json.loads(raw), "image")
    assert image["size"] == len(data) and image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert b"".join(client(glance_server, token).images.data(image_id)) == data
    listed = cli(glance_server, home, token, "task-show", task_id)
    assert listed.returncode == 0 and "success" in listed.stdout


def test_the_cli_authenticates_with_os_username_and_password(
    glance_server: DockyardServer, tenant: Credentials, home: Path
) -> None:
    env = {
        "OS_AUTH_URL": glance_server.endpoint + "/identity/v3",
        "OS_USERNAME": tenant.access_key_id,
        "OS_PASSWORD": tenant.secret_access_key,
        "OS_PROJECT_ID": tenant.account_id,
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default",
    }
    listed = cli(glance_server, home, None, "task-list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Status" in listed.stdout
    wrong = cli(glance_server, home, None, "task-list", env=env | {"OS_PASSWORD": "wrong"})
    assert wrong.returncode != 0 and "401" in wrong.stderr


def test_task_list_filters_sorts_and_pages(
    glance_server: DockyardServer, token: str, site: Site, home: Path, schemas: Schemas
) -> None:
    ids = [create(glance_server, token, import_input(f"{site.base}/rootfs.tar"), schemas) for _ in range(5)]
    ids.append(create(glance_server, token, import_input(f"{site.base}/notes.txt"), schemas))
    for task_id in ids:
        wait_task(glance_server, token, task_id)
    glance = client(glance_server, token)
    everything = [task["id"] for task in glance.tasks.list()]
    assert sorted(everything) == sorted(ids)
    assert [t["id"] for t in glance.tasks.list(filters={"status": "failure"})] == [ids[-1]]
    assert len(list(glance.tasks.list(filters={"type": "import", "status": "success"}))) == 5
    ascending = [t["id"] for t in glance.tasks.list(sort_dir="asc")]
    assert ascending == list(reversed(everything))
    for direction in ("asc", "desc"):
        # The CLI sorts on status unasked (sort_key=status); it pages by 2 here: three pages.
        paged = cli(glance_server, home, token, "task-list", "--page-size", "2", "--sort-dir", direction)
        assert paged.returncode == 0, paged.stderr
        expected = [t["id"] for t in glance.tasks.list(sort_key="status", sort_dir=direction)]
        assert [line.split("|")[1].strip() for line in paged.stdout.splitlines()[3:-1]] == expected
        assert expected[0 if direction == "asc" else -1] == ids[-1]  # "failure" sorts before "success"
    failed = cli(glance_server, home, token, "task-list", "--status", "failure", "--type", "import")
    assert failed.returncode == 0 and ids[-1] in failed.stdout and ids[0] not in failed.stdout
    pages = []
    path = "/image/v2/tasks?limit=2"
    while path:
        status, _, raw = request(glance_server, "GET", path, token=token)
        assert status == 200
        page = schemas.check(json.loads(raw), "tasks")
        pages.append([task["id"] for task in page["tasks"]])
        assert all("input" not in task for task in page["tasks"])
        path = "/image" + page["next"] if "next" in page else ""
    assert pages[:3] == [everything[0:2], everything[2:4], everything[4:6]]
    assert page["first"] == "/v2/tasks?limit=2"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort_dir=sideways", "Invalid sort direction: sideways"),
        ("status=done", "Invalid status value: done"),
        ("type=export", "Invalid type value: export"),
        ("marker=not-a-uuid", "Invalid marker format"),
        ("marker=00000000-0000-0000-0000-000000000000", "Task with the given id"),
        ("limit=many", "limit param must be an integer"),
        ("limit=-1", "limit param must be positive"),
        ("sort_key=colour", "Sort key supplied was not valid."),
    ],
    ids=[
        "sort direction",
        "status",
        "type",
        "malformed marker",
        "unknown marker",
        "limit",
        "negative limit",
        "sort key",
    ],
)
def test_bad_list_parameters_get_glances_400(
    glance_server: DockyardServer, token: str, query: str, message: str
) -> None:
    status, headers, raw = request(
        glance_server, "GET", f"/image/v2/tasks?{query}", token=token, accept="*/*"
    )
    assert status == 400
    assert headers["content-type"].startswith("text/html")
    assert "<title>400 Bad Request</title>" in raw.decode() and message in raw.decode()
    with pytest.raises(glanceclient.exc.HTTPBadRequest, match=message):
        glance = client(glance_server, token)
        glance.http_client.get(f"/v2/tasks?{query}")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": {}}, "Task 'type' is required"),
        ({"type": "import"}, "Task 'input' is required"),
        ({"type": "export", "input": {}}, "Provided object does not match schema 'task'"),
        (
            {"type": "import", "input": {"import_from": "ftp://example.com/x.tar"}},
            "The given uri is not valid",
        ),
        (
            {"type": "import", "input": {"import_from": "file:///etc/passwd"}},
            "File based imports are not allowed",
        ),
        ({"type": "import", "input": {}}, "Invalid location: None"),
    ],
    ids=["no type", "no input", "unknown type", "not http", "file", "no import_from"],
)
def test_bad_task_bodies_get_glances_400(
    glance_server: DockyardServer, token: str, body: dict[str, object], message: str
) -> None:
    with pytest.raises(glanceclient.exc.HTTPBadRequest, match=message):
        client(glance_server, token).http_client.post("/v2/tasks", data=body)


def test_a_disallowed_port_is_refused_at_create(
    glance_server: DockyardServer, token: str, tmp_path: Path
) -> None:
    from tests.glance.conftest import stop_server

    # The default filter (ports 80 and 443 only), on a server of its own.
    from tests.harness import DockyardServer as Server

    strict = Server(data_dir=tmp_path / "strict").start()
    try:
        key = strict.new_account()
        strict_token = token_for(strict, key)
        with pytest.raises(glanceclient.exc.HTTPBadRequest, match="does not pass filtering"):
            client(strict, strict_token).tasks.create(
                type="import", input=import_input("http://127.0.0.1:8080/x.tar")
            )
    finally:
        stop_server(strict)


def test_an_unreachable_url_and_a_file_that_is_no_image_fail_the_task(
    glance_server: DockyardServer, token: str, site: Site, schemas: Schemas
) -> None:
    unreachable = create(glance_server, token, import_input("http://127.0.0.1:1/nothing.tar"), schemas)
    not_image = create(glance_server, token, import_input(f"{site.base}/notes.txt"), schemas)
    missing = create(glance_server, token, import_input(f"{site.base}/gone.tar"), schemas)
    cut_short = create(glance_server, token, import_input(f"{site.base}/short/rootfs.tar"), schemas)
    no_format = create(
        glance_server, token, {"import_from": f"{site.base}/rootfs.tar", "image_properties": {}}, schemas
    )
    to_ftp = create(
        glance_server, token, import_input(f"{site.base}/redirect/ftp:~~example.com~x.tar"), schemas
    )
    for task_id, words in [
        (to_ftp, "Redirect to disallowed URL: ftp://example.com/x.tar"),
        (unreachable, "Fetching http://127.0.0.1:1/nothing.tar failed"),
        (not_image, "neither a docker save archive nor a rootfs tarball"),
        (missing, "HTTP 404"),
        (cut_short, f"Fetching {site.base}/short/rootfs.tar failed: the body ended 5120 bytes short"),
        (no_format, "Input does not contain 'import_from_format' field"),
    ]:
        task = schemas.check(wait_task(glance_server, token, task_id), "task")
        assert task["status"] == "failure" and words in task["message"], task
    images = list(client(glance_server, token).images.list())
    assert images == []  # the half-made images went
    followed = f"{site.base}/redirect/" + f"{site.base}/rootfs.tar".replace("/", "~")
    task = schemas.check(
        wait_task(glance_server, token, create(glance_server, token, import_input(followed), schemas)), "task"
    )
    assert task["status"] == "success", task["message"]


def test_delete_is_refused_with_allow_get(
    glance_server: DockyardServer, token: str, site: Site, schemas: Schemas
) -> None:
    task_id = create(glance_server, token, import_input(f"{site.base}/rootfs.tar"), schemas)
    status, headers, raw = request(
        glance_server, "DELETE", f"/image/v2/tasks/{task_id}", token=token, accept="*/*"
    )
    assert status == 405 and headers["allow"] == "GET"
    assert "auto deleted after reaching the time based on their expires_at property" in raw.decode()
    status, _, _ = request(glance_server, "PATCH", f"/image/v2/tasks/{task_id}", token=token)
    assert status == 405
    status, _, raw = request(glance_server, "GET", "/image/v2/nothing-here", token=token, accept="text/plain")
    assert status == 404 and raw.decode().startswith("404 Not Found")
    status, headers, raw = request(
        glance_server, "GET", "/image/v2/tasks/x", token=token, accept="application/json"
    )
    assert status == 404 and json.loads(raw)["code"] == "404 Not Found"


def test_another_account_sees_nothing_of_a_tasks_or_images(
    glance_server: DockyardServer, token: str, site: Site, schemas: Schemas
) -> None:
    task_id = create(glance_server, token, import_input(f"{site.base}/rootfs.tar"), schemas)
    image_id = wait_task(glance_server, token, task_id)["result"]["image_id"]
    other = token_for(glance_server, glance_server.new_account())
    theirs = client(glance_server, other)
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        theirs.tasks.get(task_id)
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        theirs.images.get(image_id)
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        theirs.images.delete(image_id)
    assert list(theirs.tasks.list()) == [] and list(theirs.images.list()) == []
    status, _, _ = request(glance_server, "GET", f"/image/v2/tasks?marker={task_id}", token=other)
    assert status == 400  # a marker of another account's is unknown here
