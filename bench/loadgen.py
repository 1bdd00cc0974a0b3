"""A closed-loop load generator for AWS JSON 1.1 APIs served on 127.0.0.1.

Why it is built this way:

- Signing is not what we measure. Each worker gets its own pool of requests signed up front
  with botocore's ``SigV4Auth`` (distinct timestamps, so no two carry the same signature) and
  replays them as raw bytes. A signature stays valid for 15 minutes, so a run is capped at 10.
- Each worker process drives several keep-alive HTTP/1.1 connections, one request in flight
  on each, from a selector loop: a couple of processes saturate a server without paying a
  context switch per connection, which matters on a 2-core machine where the generator and
  the server share the CPUs.
- Every response is read whole (Content-Length, chunked or close-delimited; a server that
  closes the connection gets a new one) and any status other than 200 is an error. Latency
  runs from the first byte sent to the last byte received.
- Runs are bounded: a duration or a request count, a warm-up whose requests are not counted,
  and a hard stop. The target is always 127.0.0.1.

Use it as a library (``run(spec, plan)``) or from the command line::

    python -m bench.loadgen --port 5566 --operation DescribeClusters \\
        --body '{"clusters": ["bench-0"]}' --duration 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue as queue_module
import selectors
import socket
import statistics
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
CONTENT_TYPE = "application/x-amz-json-1.1"
ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
SIGNATURE_LIFETIME = 15 * 60.0
MAX_RUN_SECONDS = 10 * 60.0  # a pooled signature must outlive the run
_SAMPLE_ERRORS = 5


@dataclass(frozen=True)
class RequestSpec:
    """One AWS JSON 1.1 call to replay: where, which operation, with which body and key."""

    port: int
    target: str  # X-Amz-Target, e.g. "AmazonEC2ContainerServiceV20141113.DescribeClusters"
    body: bytes
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"
    service: str = "ecs"
    method: str = "POST"  # a REST call (rest-json) gives its method and path, and no target
    path: str = "/"


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long: ``duration`` seconds or ``requests`` in all, after ``warmup``."""

    workers: int = 2
    connections: int = 4  # per worker, one request in flight on each
    duration: float | None = 10.0
    requests: int | None = None
    warmup: float = 1.0
    pool: int = 32  # pre-signed requests per worker
    timeout: float = 30.0  # a response slower than this is an error and ends the run

    def __post_init__(self) -> None:
        if (self.duration is None) == (self.requests is None):
            raise ValueError("give exactly one of duration and requests")
        if self.duration is not None and self.warmup + self.duration > MAX_RUN_SECONDS:
            raise ValueError(f"a run may last {MAX_RUN_SECONDS:.0f} s at most")
        if self.workers < 1 or self.connections < 1 or self.pool < 1:
            raise ValueError("workers, connections and pool must be positive")


@dataclass
class LoadResult:
    """What the measured part of a run gave (warm-up excluded)."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)  # sorted, seconds
    reconnects: int = 0
    error_samples: list[str] = field(default_factory=list)
    completed: int = 0  # every response, warm-up included: what the server's CPU time paid for
    client_cpu: float = 0.0  # CPU seconds the workers used while sending and reading

    @property
    def client_cpu_ms_per_request(self) -> float:
        return 1000 * self.client_cpu / max(1, self.completed)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency (seconds) under which ``fraction`` of the requests finished (nearest rank)."""
        if not self.latencies:
            return float("nan")
        index = min(len(self.latencies) - 1, max(0, round(fraction * len(self.latencies)) - 1))
        return self.latencies[index]

    @property
    def p50_ms(self) -> float:
        return self.percentile(0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(0.99) * 1000

    def summary(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        text = (
            f"{self.requests} requests in {self.seconds:.2f} s: {self.rps:,.0f} req/s, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, mean {mean:.2f} ms, "
            f"errors {self.errors}, reconnects {self.reconnects}, "
            f"client CPU {self.client_cpu_ms_per_request:.3f} ms/req"
        )
        for sample in self.error_samples:
            text += f"\n  error: {sample}"
        return text


def sign_pool(spec: RequestSpec, count: int) -> list[bytes]:
    """``count`` ready-to-send HTTP/1.1 requests, each signed with botocore's SigV4Auth."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials(spec.access_key_id, spec.secret_access_key), spec.service, spec.region)
    host = f"{HOST}:{spec.port}"
    now = time.time()
    pool = []
    for index in range(count):
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - index))
        headers = {"Host": host, "X-Amz-Date": timestamp}
        if spec.target:
            headers.update({"Content-Type": CONTENT_TYPE, "X-Amz-Target": spec.target})
        request = AWSRequest(
            method=spec.method, url=f"http://{host}{spec.path}", headers=headers, data=spec.body
        )
        # The timestamp is ours (not "now") so that every pooled request has its own signature.
        request.context["timestamp"] = timestamp
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        signed_headers = signer.signed_headers(signer.headers_to_sign(request))
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        headers["User-Agent"] = "dockyard-loadgen"
        headers["Content-Length"] = str(len(spec.body))
        head = f"{spec.method} {spec.path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        pool.append(head.encode("latin-1") + b"\r\n" + spec.body)
    return pool


# -- the response reader ------------------------------------------------------------------


def parse_response(buf: bytes | bytearray, eof: bool) -> tuple[int, int, bool] | None:
    """``(status, length, keep_alive)`` once ``buf`` holds a whole response, else None."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status = int(rest[:3])
    keep_alive = version == "HTTP/1.1"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            keep_alive = "close" not in value and (keep_alive or "keep-alive" in value)
    start = head_end + 4
    if chunked:
        end = _chunked_end(buf, start)
        return None if end is None else (status, end, keep_alive)
    if length is not None:
        return (status, start + length, keep_alive) if len(buf) >= start + length else None
    return (status, len(buf), False) if eof else None


def _chunked_end(buf: bytes | bytearray, pos: int) -> int | None:
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if buf[line_end + 2 : line_end + 4] == b"\r\n":
                return line_end + 4
            return None if trailer_end < 0 else trailer_end + 4
        pos = line_end + 2 + size + 2
        if len(buf) < pos:
            return None


# -- one worker process ---------------------------------------------------------------------


class _Connection:
    __slots__ = ("sock", "buf", "sent_at", "measured")

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.sent_at = 0.0
        self.measured = False


def _worker(
    port: int,
    pool: list[bytes],
    plan: LoadPlan,
    quota: int | None,
    ready: Any,
    go: Any,
    start_at: Any,
    results: Any,
) -> None:
    """Drive ``plan.connections`` connections until the plan says stop; report on ``results``."""
    ready.put(os.getpid())
    go.wait()
    # perf_counter is CLOCK_MONOTONIC on Linux: one clock for every process of the run.
    measure_from = float(start_at.value) + plan.warmup
    stop_at = measure_from + plan.duration if plan.duration is not None else None
    hard_stop = measure_from + (plan.duration or MAX_RUN_SECONDS) + plan.timeout
    latencies = array("d")
    errors = reconnects = sent_measured = completed = 0
    samples: list[str] = []
    last_done = 0.0
    next_request = 0

    def may_send(now: float) -> bool:
        if now < measure_from:
            return True
        if stop_at is not None:
            return now < stop_at
        return sent_measured < (quota or 0)

    def send(conn: _Connection) -> None:
        nonlocal next_request, sent_measured
        conn.buf.clear()
        conn.sent_at = time.perf_counter()
        conn.measured = conn.sent_at >= measure_from
        if conn.measured:
            sent_measured += 1
        conn.sock.sendall(pool[next_request])
        next_request = (next_request + 1) % len(pool)

    selector = selectors.DefaultSelector()
    while time.perf_counter() < start_at.value:
        time.sleep(0.001)
    cpu_at_start = time.process_time()
    for _ in range(plan.connections):
        conn = _Connection(port)
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        send(conn)
    open_connections = plan.connections

    def retire(conn: _Connection) -> None:
        nonlocal open_connections
        selector.unregister(conn.sock)
        conn.sock.close()
        open_connections -= 1

    while open_connections:
        events = selector.select(timeout=0.5)
        now = time.perf_counter()
        if now > hard_stop:
            errors += open_connections
            samples.append(f"{open_connections} request(s) still open at the hard stop")
            break
        for key, _ in events:
            conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except OSError as error:
                chunk, failure = b"", f"recv failed: {error}"
            else:
                failure = ""
            conn.buf += chunk
            parsed = None if failure else parse_response(conn.buf, eof=not chunk)
            if parsed is None and chunk:
                continue  # more bytes to come
            done = time.perf_counter()
            completed += 1
            if conn.measured:
                if parsed is None or parsed[0] != 200:
                    errors += 1
                    if len(samples) < _SAMPLE_ERRORS:
                        samples.append(failure or _describe(conn.buf, parsed))
                latencies.append(done - conn.sent_at)
                last_done = done
            if parsed is None or not parsed[2]:
                # The server closed (or will close) this connection: open a new one.
                retire(conn)
                if not may_send(done):
                    continue
                try:
                    conn = _Connection(port)
                except OSError as error:
                    errors += 1
                    samples.append(f"connect failed: {error}")
                    continue
                reconnects += 1
                selector.register(conn.sock, selectors.EVENT_READ, conn)
                open_connections += 1
            if may_send(done):
                send(conn)
            else:
                retire(conn)
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    results.put(
        (
            completed,
            errors,
            reconnects,
            latencies.tobytes(),
            samples,
            measure_from,
            last_done,
            time.process_time() - cpu_at_start,
        )
    )


def _describe(buf: bytearray, parsed: tuple[int, int, bool] | None) -> str:
    if parsed is None:
        return "connection closed before a whole response arrived"
    head_end = buf.find(b"\r\n\r\n")
    body = bytes(buf[head_end + 4 : parsed[1]])[:200].decode("utf-8", "replace")
    return f"HTTP {parsed[0]}: {body}"


# -- the run ------------------------------------------------------------------------------


def run(spec: RequestSpec, plan: LoadPlan) -> LoadResult:
    """Run ``plan`` against ``spec`` from ``plan.workers`` processes and gather the results."""
    # fork: workers need nothing but the pool and the plan, and callers need no main guard.
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    start_at = context.Value("d", 0.0)
    quotas: list[int | None] = [None] * plan.workers
    if plan.requests is not None:
        share, extra = divmod(plan.requests, plan.workers)
        quotas = [share + (1 if index < extra else 0) for index in range(plan.workers)]
    processes = [
        context.Process(
            target=_worker,
            args=(spec.port, sign_pool(spec, plan.pool), plan, quotas[index], ready, go, start_at, results),
            daemon=True,
        )
        for index in range(plan.workers)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=60)
        start_at.value = time.perf_counter() + 0.2
        go.set()
        limit = plan.warmup + (plan.duration or MAX_RUN_SECONDS) + 2 * plan.timeout + 5
        parts = [results.get(timeout=limit) for _ in processes]
    except queue_module.Empty:
        raise RuntimeError("a load generator worker did not report back") from None
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    latencies: list[float] = []
    errors = reconnects = completed = 0
    client_cpu = 0.0
    samples: list[str] = []
    for part_completed, part_errors, part_reconnects, raw, part_samples, _start, _end, cpu in parts:
        client_cpu += cpu
        chunk = array("d")
        chunk.frombytes(raw)
        latencies.extend(chunk)
        completed += part_completed
        errors += part_errors
        reconnects += part_reconnects
        samples.extend(part_samples)
    begin = min(part[5] for part in parts)
    end = max(part[6] for part in parts)
    latencies.sort()
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        seconds=max(0.0, end - begin),
        latencies=latencies,
        reconnects=reconnects,
        error_samples=samples[:_SAMPLE_ERRORS],
        completed=completed,
        client_cpu=client_cpu,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="server port on 127.0.0.1")
    parser.add_argument("--operation", required=True, help="e.g. DescribeClusters")
    parser.add_argument("--target-prefix", default=ECS_TARGET_PREFIX)
    parser.add_argument("--body", default="{}", help="the JSON request body")
    parser.add_argument("--service", default="ecs")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key-id", default=os.environ.get("AWS_ACCESS_KEY_ID", ""))
    parser.add_argument("--secret-access-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4, help="per worker")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, help="seconds to measure (default 10)")
    amount.add_argument("--requests", type=int, help="requests to measure")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--pool", type=int, default=32, help="pre-signed requests per worker")
    args = parser.parse_args(argv)
    if not args.access_key_id or not args.secret_access_key:
        parser.error("give --access-key-id/--secret-access-key or set AWS_ACCESS_KEY_ID/...")
    spec = RequestSpec(
        port=args.port,
        target=f"{args.target_prefix}.{args.operation}",
        body=args.body.encode(),
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        region=args.region,
        service=args.service,
    )
    duration = None if args.requests else (args.duration or 10.0)
    plan = LoadPlan(
        workers=args.workers,
        connections=args.connections,
        duration=duration,
        requests=args.requests,
        warmup=args.warmup,
        pool=args.pool,
    )
    print(run(spec, plan).summary())


if __name__ == "__main__":
    main()
