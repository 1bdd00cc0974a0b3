"""IoT jobs: Dockyard against moto on DescribeJob and ListJobExecutionsForJob (one job of
1,000 executions), then Dockyard alone: CreateJob on a 5,000-thing group, and job executions
completed per second by 1,000 simulated devices looping StartNext → Update.

Both servers get the same state through boto3 (1,000 things, one job targeting each of them by
ARN: moto keeps one execution per target ARN and does not expand groups), then the load
generator (``bench.loadgen``) replays pre-signed GET requests against one server at a time.
The devices are threads in two processes (``--device-threads`` each) over keep-alive
connections; each thread signs its devices' calls with botocore's signer before the clock
starts (a StartNext per device, an Update per device and job), as the load generator pre-signs
its requests, so that the client's signing does not take the cores the server is measured on.

    .venv/bin/python -m bench.iot_jobs --duration 10 --repeat 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.servers import BENCH_KEY_ID, BENCH_SECRET, HOST, ServerProcess, machine, start_dockyard, start_moto

JOB = "bench-job"
SCENARIOS = {
    "DescribeJob": f"/jobs/{JOB}",
    "ListJobExecutionsForJob": f"/jobs/{JOB}/things?maxResults=100",
}


def client(server: ServerProcess, service: str = "iot") -> Any:
    import boto3
    import botocore.config

    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=BENCH_KEY_ID,
        aws_secret_access_key=BENCH_SECRET,
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=32),
    )


def make_things(iot: Any, prefix: str, count: int, group: str | None = None) -> list[str]:
    if group:
        iot.create_thing_group(thingGroupName=group)
    arns = []
    for index in range(count):
        name = f"{prefix}-{index}"
        arns.append(iot.create_thing(thingName=name)["thingArn"])
        if group:
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return arns


def prepare(server: ServerProcess, things: int) -> None:
    iot = client(server)
    arns = make_things(iot, "bench", things)
    iot.create_job(jobId=JOB, targets=arns, document=json.dumps({"operation": "runContainer", "image": "x"}))


def measure(server: ServerProcess, path: str, plan: loadgen.LoadPlan) -> tuple[loadgen.LoadResult, float]:
    spec = loadgen.RequestSpec(
        port=server.port,
        target="",
        body=b"",
        access_key_id=BENCH_KEY_ID,
        secret_access_key=BENCH_SECRET,
        service="iot",
        method="GET",
        path=path,
    )
    before = server.cpu_seconds()
    result = loadgen.run(spec, plan)
    return result, server.cpu_seconds() - before


# -- simulated devices ---------------------------------------------------------------------


def _signer() -> Any:
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    return SigV4Auth(Credentials(BENCH_KEY_ID, BENCH_SECRET), "iot-jobs-data", "us-east-1")


def _signed(signer: Any, port: int, method: str, path: str, body: bytes) -> dict[str, str]:
    """The headers of one call, signed with botocore's signer (as boto3 would sign it)."""
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=f"http://{HOST}:{port}{path}", data=body)
    signer.add_auth(request)
    return dict(request.headers)


_START_BODY = b"{}"
_DONE_BODY = json.dumps({"status": "SUCCEEDED"}).encode()


def _device_calls(
    port: int, names: list[str], jobs: list[str], counter: Any, signed: threading.Barrier, go: threading.Event
) -> None:
    """One thread's devices: each starts its next execution and reports it SUCCEEDED, until
    none is left. Every call is signed before the clock starts (as the load generator's are:
    a signature holds for minutes), so the two cores measure the server, not botocore's
    signer; a job a device did not expect is signed when it comes."""
    signer = _signer()
    starts = {name: _signed(signer, port, "PUT", f"/things/{name}/jobs/$next", _START_BODY) for name in names}
    reports = {
        (name, job): _signed(signer, port, "POST", f"/things/{name}/jobs/{job}", _DONE_BODY)
        for name in names
        for job in jobs
    }
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    signed.wait()
    go.wait()

    def call(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {raw[:200]!r}")
        return dict(json.loads(raw or b"{}"))

    pending = list(names)
    while pending:
        still = []
        for name in pending:
            execution = call("PUT", f"/things/{name}/jobs/$next", _START_BODY, starts[name]).get("execution")
            if not execution:
                continue
            job, path = execution["jobId"], f"/things/{name}/jobs/{execution['jobId']}"
            headers = reports.get((name, job)) or _signed(signer, port, "POST", path, _DONE_BODY)
            call("POST", path, _DONE_BODY, headers)
            with counter.get_lock():
                counter.value += 1
            still.append(name)
        pending = still


def _device_process(
    port: int, names: list[str], jobs: list[str], threads: int, counter: Any, signed: Any, go: Any
) -> None:
    """``threads`` threads of devices; ``signed`` released once they all signed their calls,
    then they start when ``go`` is set."""
    all_signed = threading.Barrier(threads + 1)
    start = threading.Event()
    slices = [names[index::threads] for index in range(threads)]
    workers = [
        threading.Thread(target=_device_calls, args=(port, part, jobs, counter, all_signed, start))
        for part in slices
    ]
    for worker in workers:
        worker.start()
    all_signed.wait()
    signed.release()
    go.wait()
    start.set()
    for worker in workers:
        worker.join()


def run_devices(
    server: ServerProcess, names: list[str], jobs: list[str], processes: int, threads: int
) -> tuple[int, float, float]:
    """(executions completed, seconds, server CPU seconds) for ``names`` draining their work;
    the clock starts once every device thread has signed its calls."""
    counter = multiprocessing.Value("i", 0)
    signed = multiprocessing.Semaphore(0)
    go = multiprocessing.Event()
    parts = [names[index::processes] for index in range(processes)]
    children = [
        multiprocessing.Process(
            target=_device_process, args=(server.port, part, jobs, threads, counter, signed, go)
        )
        for part in parts
    ]
    for child in children:
        child.start()
    for _ in children:
        signed.acquire()
    before_cpu = server.cpu_seconds()
    started = time.monotonic()
    go.set()
    for child in children:
        child.join()
    return counter.value, time.monotonic() - started, server.cpu_seconds() - before_cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--things", type=int, default=1000, help="executions of the described job (0: no comparison)"
    )
    parser.add_argument("--group", type=int, default=5000, help="things of the CreateJob group (0: skip)")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--jobs-per-device", type=int, default=5)
    parser.add_argument(
        "--device-threads", type=int, default=16, help="threads per device process (2 processes)"
    )
    parser.add_argument("--servers", default="dockyard,moto")
    args = parser.parse_args(argv)
    plan = loadgen.LoadPlan(workers=2, connections=4, duration=args.duration, warmup=args.warmup)
    info = machine()
    print(f"# {info['date']}, {info['cpus']} CPUs ({info['cpu']}), load average {info['load']}")
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        servers: list[ServerProcess] = []
        try:
            if "dockyard" in args.servers:
                servers.append(start_dockyard(Path(tmp) / "dockyard"))
            if "moto" in args.servers:
                servers.append(start_moto(Path(tmp) / "moto"))
            if not args.things:
                servers = [s for s in servers if s.name == "dockyard"]
            for server in servers if args.things else []:
                prepare(server, args.things)
            print("| Operation | Server | req/s | p50 ms | p99 ms | server CPU ms/req | errors |")
            print("|---|---|---:|---:|---:|---:|---:|")
            for operation, path in SCENARIOS.items() if args.things else []:
                rps: dict[str, float] = {}
                for server in servers:
                    runs = [measure(server, path, plan) for _ in range(args.repeat)]
                    middle = sorted(runs, key=lambda run: run[0].rps)[len(runs) // 2][0]
                    cpu = statistics.median(1000 * c / max(1, r.completed) for r, c in runs)
                    rps[server.name] = middle.rps
                    errors = sum(r.errors for r, _ in runs)
                    print(
                        f"| {operation} | {server.name} | {middle.rps:,.0f} | {middle.p50_ms:.2f} | "
                        f"{middle.p99_ms:.2f} | {cpu:.3f} | {errors} |",
                        flush=True,
                    )
                if "moto" in rps and "dockyard" in rps:
                    ratio = rps["dockyard"] / rps["moto"]
                    print(f"| {operation} | **dockyard/moto** | **{ratio:.1f}x** | | | | |")
            dockyard = next((s for s in servers if s.name == "dockyard"), None)
            if dockyard is not None:
                alone(dockyard, args)
        finally:
            for server in servers:
                server.stop()


def alone(server: ServerProcess, args: argparse.Namespace) -> None:
    iot = client(server)
    if args.group:
        make_things(iot, "fleet", args.group, group="fleet")
        group_arn = iot.describe_thing_group(thingGroupName="fleet")["thingGroupArn"]
        started = time.monotonic()
        iot.create_job(jobId="fleet-job", targets=[group_arn], document="{}")
        took = time.monotonic() - started
        queued = iot.describe_job(jobId="fleet-job")["job"]["jobProcessDetails"]["numberOfQueuedThings"]
        print(f"\nCreateJob on a {args.group}-thing group: {took * 1000:.0f} ms, {queued} executions QUEUED")
    names = make_things(iot, "device", args.devices, group="devices")
    names = [arn.rsplit("/", 1)[-1] for arn in names]
    devices_arn = iot.describe_thing_group(thingGroupName="devices")["thingGroupArn"]
    for index in range(args.jobs_per_device):
        iot.create_job(jobId=f"device-job-{index}", targets=[devices_arn], document="{}")
    print(f"load average before the device loop: {machine()['load']}")
    jobs = [f"device-job-{index}" for index in range(args.jobs_per_device)]
    done, seconds, cpu = run_devices(server, names, jobs, processes=2, threads=args.device_threads)
    print(
        f"{args.devices} devices, StartNext → Update SUCCEEDED: {done} executions in {seconds:.1f} s, "
        f"{done / seconds:,.0f} executions/s, server CPU {1000 * cpu / max(1, done):.2f} ms/execution"
    )


if __name__ == "__main__":
    main()
