"""S3 Batch Operations jobs on a hollow fleet: items per second from Active to Complete (report
written), Preparing time and the server's peak RSS for a large manifest, and DescribeJob's
latency while a job runs. No peer: moto's s3control has no Batch Operations jobs.

The fleet is ``dockyard agent --hollow N`` (one process; its tasks exit 0 at once). The manifest
is a CSV uploaded through Dockyard's S3 gateway into the embedded object store; the job is
created with ConfirmationRequired, so Preparing (manifest streamed, items written) is timed on
its own (until Suspended), then UpdateJobStatus Ready starts the run, timed until Complete.
A thread calls DescribeJob back to back during the run.

    .venv/bin/python -m bench.batch_jobs --items 100000 --instances 100 --prepare-lines 1000000
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.servers import BENCH_KEY_ID, BENCH_SECRET, ServerProcess, machine, process_tree_cpu, start_dockyard

ACCOUNT = "000000000000"
CLUSTER = "batch"


def clients(server: ServerProcess) -> tuple[Any, Any, Any]:
    import boto3
    import botocore.config

    from dockyard import clients as dockyard_clients

    common: dict[str, Any] = {
        "region_name": "us-east-1",
        "aws_access_key_id": BENCH_KEY_ID,
        "aws_secret_access_key": BENCH_SECRET,
    }
    config = botocore.config.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    s3 = boto3.client("s3", endpoint_url=server.endpoint, config=config, **common)
    ecs = boto3.client("ecs", endpoint_url=server.endpoint, config=config, **common)
    s3control = dockyard_clients.s3control(server.endpoint, config=config, **common)
    return s3, ecs, s3control


def account_of(server: ServerProcess) -> str:
    import boto3

    sts_like = boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=BENCH_KEY_ID,
        aws_secret_access_key=BENCH_SECRET,
    )
    arn = sts_like.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    return str(arn.split(":")[4])


def start_fleet(server: ServerProcess, count: int, log_dir: Path) -> subprocess.Popen[bytes]:
    import os

    env = dict(os.environ, AWS_ACCESS_KEY_ID=BENCH_KEY_ID, AWS_SECRET_ACCESS_KEY=BENCH_SECRET)
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    command = [sys.executable, "-m", "dockyard", "agent", "--endpoint", server.endpoint, "--cluster", CLUSTER]
    command += ["--hollow", str(count), "--hollow-task-seconds", "0", "--hollow-concurrency", "32"]
    log_path = log_dir / "hollow.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while f"all {count} connected" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log_path.read_text()[-2000:])
        time.sleep(0.2)
    return process


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def put_manifest(s3: Any, bucket: str, name: str, lines: int) -> str:
    body = "".join(f"{bucket},data/object-{n:08d}.bin\n" for n in range(lines)).encode()
    return str(s3.put_object(Bucket=bucket, Key=name, Body=body)["ETag"]).strip('"')


def create_job(s3control: Any, account: str, bucket: str, name: str, etag: str, *, report: bool) -> str:
    return str(
        s3control.create_job(
            AccountId=account,
            ConfirmationRequired=True,
            Operation={
                "LambdaInvoke": {
                    "FunctionArn": "bench-fn",
                    "InvocationSchemaVersion": "2.0",
                    "UserArguments": {"dockyard:cluster": CLUSTER, "dockyard:maxConcurrency": "2000"},
                }
            },
            Manifest={
                "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/{name}", "ETag": etag},
            },
            Report={
                "Enabled": True,
                "Bucket": f"arn:aws:s3:::{bucket}",
                "Prefix": "reports",
                "Format": "Report_CSV_20180820",
                "ReportScope": "AllTasks",
            }
            if report
            else {"Enabled": False},
            Priority=10,
            RoleArn=f"arn:aws:iam::{account}:role/bench",
            ClientRequestToken=str(uuid.uuid4()),
        )["JobId"]
    )


def wait_status(
    s3control: Any, account: str, job_id: str, statuses: set[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = s3control.describe_job(AccountId=account, JobId=job_id)["Job"]
        if job["Status"] in statuses:
            return dict(job)
        time.sleep(0.1)
    raise RuntimeError(f"job {job_id} did not reach {statuses} in {timeout} s")


def books(ecs: Any) -> str:
    """Every task of the job stopped: the instances' books are back where they started."""
    arns = ecs.list_container_instances(cluster=CLUSTER, maxResults=100)["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)
    held = 0
    for instance in described["containerInstances"]:
        registered = {r["name"]: r.get("integerValue") for r in instance["registeredResources"]}
        remaining = {r["name"]: r.get("integerValue") for r in instance["remainingResources"]}
        held += sum(registered[name] != remaining[name] for name in ("CPU", "MEMORY"))
    return f"books after the run: {len(arns)} instances, {held} with CPU or memory still held"


def profile(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` until interrupted (``pip install py-spy`` for measuring only)."""
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "50"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--prepare-lines", type=int, default=1_000_000, help="0: skip the Preparing run")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--profile", type=Path, help="py-spy's collapsed stacks of the server during the run, to this file"
    )
    args = parser.parse_args()
    print(f"# {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_dockyard(Path(tmp) / "server")
        fleet = None
        try:
            s3, ecs, s3control = clients(server)
            account = account_of(server)
            ecs.register_task_definition(
                family="bench-fn",
                containerDefinitions=[{"name": "main", "image": "x", "memory": 6, "cpu": 1}],
            )
            bucket = "bench"
            s3.create_bucket(Bucket=bucket)
            if args.prepare_lines:
                etag = put_manifest(s3, bucket, "large.csv", args.prepare_lines)
                before_peak, before = peak_rss_mib(server.pid), rss_mib(server.pid)
                started = time.monotonic()
                job_id = create_job(s3control, account, bucket, "large.csv", etag, report=False)
                job = wait_status(s3control, account, job_id, {"Suspended", "Failed"}, args.timeout)
                seconds = time.monotonic() - started
                total = job["ProgressSummary"].get("TotalNumberOfTasks")
                print(
                    f"Preparing {args.prepare_lines:,} lines: {seconds:.1f} s ({total:,} items, "
                    f"{args.prepare_lines / seconds:,.0f} lines/s); server RSS {before:.0f} MiB before, "
                    f"peak {peak_rss_mib(server.pid):.0f} MiB (peak before: {before_peak:.0f} MiB)"
                )
                s3control.update_job_status(AccountId=account, JobId=job_id, RequestedJobStatus="Cancelled")
                wait_status(s3control, account, job_id, {"Cancelled"}, args.timeout)
            fleet = start_fleet(server, args.instances, Path(tmp))
            etag = put_manifest(s3, bucket, "run.csv", args.items)
            job_id = create_job(s3control, account, bucket, "run.csv", etag, report=True)
            wait_status(s3control, account, job_id, {"Suspended"}, args.timeout)
            latencies: list[float] = []
            stop = threading.Event()

            def describe() -> None:
                _s3, _ecs, own = clients(server)
                while not stop.is_set():
                    began = time.perf_counter()
                    own.describe_job(AccountId=account, JobId=job_id)
                    latencies.append(time.perf_counter() - began)
                    time.sleep(0.05)

            watcher = threading.Thread(target=describe, daemon=True)
            profiler = profile(server.pid, args.profile) if args.profile else None
            cpu_before, fleet_cpu_before = server.cpu_seconds(), process_tree_cpu(fleet.pid)
            started = time.monotonic()
            s3control.update_job_status(AccountId=account, JobId=job_id, RequestedJobStatus="Ready")
            watcher.start()
            job = wait_status(s3control, account, job_id, {"Complete", "Failed"}, args.timeout)
            seconds = time.monotonic() - started
            stop.set()
            watcher.join(timeout=10)
            summary = job["ProgressSummary"]
            cpu = server.cpu_seconds() - cpu_before
            fleet_cpu = process_tree_cpu(fleet.pid) - fleet_cpu_before
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
            print(
                f"Run {args.items:,} items on {args.instances} hollow instances: {job['Status']} "
                f"in {seconds:.1f} s = {args.items / seconds:,.0f} items/s "
                f"(succeeded {summary['NumberOfTasksSucceeded']:,}, "
                f"failed {summary['NumberOfTasksFailed']:,}); "
                f"server CPU {cpu:.1f} s = {cpu * 1000 / args.items:.1f} ms per item; "
                f"hollow agents' CPU {fleet_cpu:.1f} s; load {' '.join(machine()['load'].split()[:1])}"
            )
            print(books(ecs))
            ordered = sorted(latencies)
            if ordered:
                p50 = statistics.median(ordered) * 1000
                p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
                print(
                    f"DescribeJob during the run: {len(ordered)} calls, p50 {p50:.1f} ms, "
                    f"p99 {p99:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
                )
        finally:
            if fleet is not None:
                fleet.terminate()
                fleet.wait(timeout=30)
            server.stop()


if __name__ == "__main__":
    main()
