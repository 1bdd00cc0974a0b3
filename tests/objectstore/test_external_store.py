"""``--object-store-url``: the gateway works the same over a store the user brings (moto's S3
server stands in for MinIO or S3 here), and no rclone is started."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.harness import DockyardServer, free_port
from tests.objectstore.conftest import s3_client
from tests.objectstore.test_supervision import rclone_children


@pytest.fixture
def external_store() -> Iterator[str]:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    url = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: each test starts from an empty store.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).close()
    yield url
    moto.stop()


def test_buckets_and_objects_live_in_the_store_given(external_store: str, tmp_path: Path) -> None:
    server = DockyardServer(
        data_dir=tmp_path / "server",
        extra_args=("--object-store-url", external_store, "--object-store-access-key-id", "MOTOKEY"),
        environment={"DOCKYARD_OBJECT_STORE_SECRET_ACCESS_KEY": "moto-secret"},
    ).start()
    try:
        assert server.process is not None
        s3 = s3_client(server, server.new_account())
        s3.create_bucket(Bucket="brought")
        s3.put_object(Bucket="brought", Key="k", Body=b"in the user's store")
        assert s3.get_object(Bucket="brought", Key="k", Range="bytes=3-5")["Body"].read() == b"the"
        assert [item["Key"] for item in s3.list_objects_v2(Bucket="brought")["Contents"]] == ["k"]
        direct = boto3.client(
            "s3",
            endpoint_url=external_store,
            region_name="us-east-1",
            aws_access_key_id="MOTOKEY",
            aws_secret_access_key="moto-secret",
        )
        [backing] = [bucket["Name"] for bucket in direct.list_buckets()["Buckets"]]
        assert backing.startswith("dy-")
        assert direct.get_object(Bucket=backing, Key="k")["Body"].read() == b"in the user's store"
        assert rclone_children(server.process.pid) == []
        assert "moto-secret" not in server.log()
    finally:
        server.stop()
