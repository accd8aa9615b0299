"""Ingest benchmark: signed Klaviyo webhooks (one `sent_sms` event each) per second, and their
latency, through the real receiver under gunicorn, against a same-run floor: a bare Flask app
doing one Redis LPUSH (bench/bare_app.py) under the same Procfile gunicorn settings.

    .venv/bin/python -m bench.ingest [--duration 10] [--connections 16] [--no-doc]

Load comes from `wrk` (apt-get install wrk) with pre-signed requests, each event id used once.
No worker runs: the receiver's queue grows during a run and Redis is flushed after each side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import redis

from bench.report import group_stats, machine, write_section
from scripts.devstack import SANDBOX_KLAVIYO_SECRET, Proc, Stack, free_port, port_answers, procfile
from tests.e2e.harness import wait_for
from tests.support.signing import klaviyo_signature

LUA = Path(__file__).with_name("signed_post.lua")
PATH = "/webhooks/klaviyo"
BRAND = "+18005550100"
CUSTOMERS = 500


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    wraps: int
    cpu_ms: float = 0.0    # CPU time of the server's process group per request

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def sent_sms_delivery(event_id: str, n: int) -> bytes:
    """A Klaviyo system-webhook body with one `sent_sms` event (API-NOTES shape)."""
    now = datetime.now(UTC)
    customer = n % CUSTOMERS
    payload = {
        "type": "event", "id": event_id,
        "attributes": {"timestamp": int(now.timestamp()), "datetime": now.isoformat(),
                       "uuid": str(uuid.uuid4()),
                       "event_properties": {"Message Body": f"Where is my order? ({n})",
                                            "To Number": BRAND,
                                            "From Number": f"+1500555{3000 + customer}"}},
        "relationships": {"profile": {"data": {"type": "profile",
                                               "id": f"01JBENCH{customer:018d}"}},
                          "metric": {"data": {"type": "metric", "id": "BnchSS"}}}}
    return json.dumps({
        "data": [{"external_id": event_id, "topic": "event:klaviyo.sent_sms", "payload": payload}],
        "meta": {"klaviyo_webhook_id": "01JBENCHWEBHOOK0000000000", "klaviyo_account_id": "BENCH",
                 "timestamp": now.isoformat(timespec="seconds"), "version": "2026-07-15"}}).encode()


def write_requests(folder: Path, count: int, threads: int, tag: str) -> None:
    """`count` signed requests split over one file per wrk thread (see signed_post.lua)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [open(folder / f"{t}.tsv", "wb") for t in range(threads)]
    try:
        for i in range(count):
            body, ts = sent_sms_delivery(f"{tag}{i:09d}", i), str(int(time.time()))
            sig = klaviyo_signature(body, ts, SANDBOX_KLAVIYO_SECRET)
            files[i % threads].write(f"{ts}\t{sig}\t".encode() + body + b"\n")
    finally:
        for f in files:
            f.close()


def run_wrk(url: str, folder: Path, seconds: int, args: argparse.Namespace) -> Result:
    run = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
                          "--timeout", "10s", "-s", str(LUA), url, "--", str(folder), PATH],
                         capture_output=True, text=True)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode or not lines:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stdout}{run.stderr}")
    doc = json.loads(lines[-1])
    return Result(doc["requests"], doc["duration_us"] / 1e6, doc["non_2xx"],
                  doc["socket_errors"], doc["p50_us"] / 1000, doc["p99_us"] / 1000, doc["wraps"])


def measure(name: str, url: str, pgid: int, workdir: Path, r: redis.Redis,
            args: argparse.Namespace) -> Result:
    """Warm up, then one measured wrk run with fresh event ids; flush Redis afterwards.
    CPU per request (the server's process group) is steadier than req/s on a shared machine."""
    stamp = f"{name}{int(time.time())}"
    write_requests(workdir / f"{name}-warm", int(args.max_rate * args.warmup), args.threads,
                   f"{stamp}w")
    run_wrk(url, workdir / f"{name}-warm", args.warmup, args)
    write_requests(workdir / name, int(args.max_rate * args.duration), args.threads, f"{stamp}m")
    cpu = group_stats(pgid).cpu_seconds
    result = run_wrk(url, workdir / name, args.duration, args)
    cpu = group_stats(pgid).cpu_seconds - cpu
    r.flushdb()
    return replace(result, cpu_ms=cpu * 1000 / max(result.requests, 1))


def median_run(runs: list[Result]) -> Result:
    """The round with the median rate (the lower middle one for an even count)."""
    return sorted(runs, key=lambda x: x.rate)[(len(runs) - 1) // 2]


def start_bare(stack: Stack) -> tuple[Proc, str]:
    """bench/bare_app.py under the Procfile's `web` command (same workers, threads, logging)."""
    port = free_port()
    cmd = procfile()["web"].replace("webapp.wsgi:app", "bench.bare_app:app")
    proc = Proc("bare", ["sh", "-c", "exec " + cmd], {**stack.env(), "PORT": str(port)},
                stack.workdir / "bare.log")
    proc.start()
    wait_for(lambda: port_answers(port), 30, "the bare app")
    return proc, f"http://127.0.0.1:{port}"


def doc_section(m: str, runs: dict[str, list[Result]], args: argparse.Namespace) -> str:
    ours, bare = median_run(runs["ours"]), median_run(runs["bare"])
    rounds = "; ".join(f"{name} " + ", ".join(f"{x.rate:,.0f} ({x.cpu_ms:.2f} ms CPU)" for x in rs)
                       for name, rs in runs.items())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    def row(label: str, x: Result) -> str:
        return (f"| {label} | {x.rate:,.0f} | {x.p50_ms:.2f} | {x.p99_ms:.2f} | "
                f"{x.cpu_ms:.2f} | {x.non_2xx + x.socket_errors} |")

    return f"""## Ingest: receiver under gunicorn (`bench/ingest.py`)

Machine: {m}.
Command: `.venv/bin/python -m bench.ingest --duration {args.duration} --connections \
{args.connections} --threads {args.threads} --rounds {args.rounds}`

Procfile `web` line (WEB_CONCURRENCY={os.environ.get("WEB_CONCURRENCY", "2")}):
`{procfile()["web"]}`; wrk {args.threads} thread(s), {args.connections} keep-alive
connections on loopback; per side {args.rounds} round(s) (alternating order; the median-rate
round is shown) of {args.warmup} s warm-up then {args.duration} s measured; one request =
one signed `sent_sms` event with a fresh id (500 customers). No worker: queues grow, Redis is
flushed between sides.

| side | req/s | p50 ms | p99 ms | server CPU ms/req | errors |
| --- | ---: | ---: | ---: | ---: | ---: |
{row("receiver (verify, store, route, publish)", ours)}
{row("floor: bare Flask + one LPUSH", bare)}
| **ours / floor** | **{ours.rate / bare.rate:.2f}** | {ours.p50_ms / bare.p50_ms:.2f} | \
{ours.p99_ms / bare.p99_ms:.2f} | {ours.cpu_ms / bare.cpu_ms:.2f} | |

Every round, req/s (server CPU per request): {rounds}. Load average at the end: {load}.

Per request the receiver checks the HMAC and timestamp, parses the delivery, stores the event
and its conversation place in Redis, publishes one Celery message and counts it; the floor
only writes the body. wrk shares the 2 cores with gunicorn and Redis, so both rates are
lower than on a separate load host; the ratios are the figures to watch. Server CPU per
request (user + system time of the gunicorn process group over the measured run) moves
much less than req/s when other work shares the machine."""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="measured seconds per side")
    p.add_argument("--warmup", type=int, default=5, help="warm-up seconds per side")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternating runs per side; the median-rate run is reported")
    p.add_argument("--max-rate", type=int, default=6000,
                   help="requests signed per second of run (more than the server can take)")
    p.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    return p.parse_args()


def run_rounds(stack: Stack, bare: Proc, bare_url: str, workdir: Path,
               args: argparse.Namespace) -> dict[str, list[Result]]:
    """`args.rounds` measured runs per side, alternating which side goes first."""
    r = redis.Redis.from_url(stack.redis_url)
    sides = [("bare", bare_url, bare.popen.pid),
             ("ours", stack.web_url, stack.procs["web"].popen.pid)]
    runs: dict[str, list[Result]] = {"bare": [], "ours": []}
    for n in range(args.rounds):   # alternate the order: noise hits both sides
        for name, url, pgid in sides if n % 2 == 0 else sides[::-1]:
            runs[name].append(measure(f"{name}{n}", url, pgid, workdir, r, args))
            x = runs[name][-1]
            print(f"{name:5} {x.rate:8,.0f} req/s  p50 {x.p50_ms:6.2f} ms  "
                  f"p99 {x.p99_ms:6.2f} ms  CPU {x.cpu_ms:.2f} ms/req  "
                  f"non-2xx {x.non_2xx}  socket errors {x.socket_errors}  "
                  f"wraps {x.wraps}", flush=True)
    return runs


def print_ratios(runs: dict[str, list[Result]]) -> None:
    results = {name: median_run(rs) for name, rs in runs.items()}
    ours, floor = results["ours"], results["bare"]
    print(f"ours/bare: rate {ours.rate / floor.rate:.2f}, p50 {ours.p50_ms / floor.p50_ms:.2f}, "
          f"p99 {ours.p99_ms / floor.p99_ms:.2f}, CPU/req {ours.cpu_ms / floor.cpu_ms:.2f}; "
          "load average now "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if any(x.wraps for rs in runs.values() for x in rs):
        print("warning: wrk ran out of signed requests (sent duplicates): raise --max-rate")


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="zkb-bench-") as tmp:
        stack = Stack(workdir=Path(tmp), processes=("web",))
        bare = None
        try:
            stack.start()
            bare, bare_url = start_bare(stack)
            m = machine(stack.redis_url)
            runs = run_rounds(stack, bare, bare_url, Path(tmp), args)
        finally:
            if bare:
                bare.stop()
            stack.stop()
    print_ratios(runs)
    if not args.no_doc:
        write_section("ingest", doc_section(m, runs, args))


if __name__ == "__main__":
    main()
