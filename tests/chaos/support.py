"""What the chaos scenarios share: a stack of their own with budgets raised on both sides (the
bridge's settings and the sandbox's limits, kept equal), cheap views of the outcome, and the
process handles the scenarios pull on."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from scripts.devstack import Stack
from tests.e2e.harness import TOLL_FREE, Bridge, parked_idle, wait_for
from workers.queues import QUEUES

# Bridge budgets and the sandbox buckets that enforce the same vendor limits. The per-second
# windows are fixed in the bridge (3 conversation messages/s, 75 profile reads/s, 3
# conversation reads/s and 60/min): the sandbox keeps those.
BUDGETS = {
    "ZENDESK_REQUESTS_PER_MINUTE": ("zendesk", 6000, None),
    "ZENDESK_UPDATES_PER_MINUTE": ("zendesk:update_ticket", 3000, None),
    "KLAVIYO_MESSAGES_PER_MINUTE": ("klaviyo:conversation-messages", 180, 3),
    "KLAVIYO_PROFILES_PER_MINUTE": ("klaviyo:profiles", 4500, 75),
    "KLAVIYO_EVENTS_PER_MINUTE": ("klaviyo:events", 6000, 350),
}

BASE_ENV = {
    "SMS_KEYWORDS": "VIP,SALE",
    "WEB_CONCURRENCY": "2",
    "LOG_LEVEL": "WARNING",       # thousands of events: keep the logs (and their CPU) small
    **{name: str(per_minute) for name, (_, per_minute, _) in BUDGETS.items()},
}


@contextmanager
def chaos_stack(workdir: Path, env: dict[str, str], *, redis_aof: bool = False,
                ) -> Iterator[tuple[Stack, Bridge]]:
    stack = Stack(workdir=workdir, extra_env={**BASE_ENV, **env}, redis_aof=redis_aof)
    try:
        stack.start()
        bridge = Bridge(stack)
        match_sandbox_limits(bridge)
        yield stack, bridge
    finally:
        stack.stop()


def match_sandbox_limits(bridge: Bridge) -> None:
    for _, (bucket, per_minute, per_second) in BUDGETS.items():
        windows = [[per_minute, 60]] if per_second is None else [[per_second, 1],
                                                                  [per_minute, 60]]
        bridge.set_limit(bucket, windows)


def set_faults(bridge: Bridge, api: str, **values: Any) -> None:
    requests.post(f"{bridge.sandbox}/_sandbox/faults", json={"api": api, **values},
                  timeout=10).raise_for_status()


def clear_faults(bridge: Bridge) -> None:
    requests.delete(f"{bridge.sandbox}/_sandbox/faults", timeout=10).raise_for_status()


def delivery(bridge: Bridge, delivery_id: int) -> dict[str, Any]:
    r = requests.get(f"{bridge.sandbox}/_sandbox/deliveries/{delivery_id}", timeout=10)
    r.raise_for_status()
    return r.json()


def wait_delivered(bridge: Bridge, ids: list[int], timeout: float = 60) -> dict[int, dict]:
    """Wait until each delivery is delivered or dropped; their final records."""
    deadline = time.time() + timeout
    out: dict[int, dict] = {}
    while time.time() < deadline:
        for d in ids:
            if d not in out:
                rec = delivery(bridge, d)
                if rec["status"] != "pending":
                    out[d] = rec
        if len(out) == len(ids):
            return out
        time.sleep(0.2)
    raise AssertionError(f"deliveries still pending after {timeout:.0f}s: "
                         f"{sorted(set(ids) - set(out))}")


def acknowledged_at(rec: dict[str, Any]) -> float | None:
    """When the receiver answered the delivery with a 2xx (None: it never did)."""
    for attempt in rec["attempts"]:
        if attempt["status"] is not None and 200 <= attempt["status"] < 300:
            return float(attempt["at"])
    return None


def all_sms(bridge: Bridge) -> list[dict[str, Any]]:
    return requests.get(f"{bridge.sandbox}/_sandbox/klaviyo/sms", timeout=30).json()


def broker_idle(bridge: Bridge) -> bool:
    """Nothing queued, held (countdowns included), parked soon or waiting its turn in Redis."""
    r = bridge.redis
    if sum(r.llen(q) for q in QUEUES if q != "zkb.maintenance") or r.hlen("unacked"):
        return False
    return not any(True for _ in r.scan_iter(match="zkb:convq:*", count=1000)) \
        and parked_idle(r)


def outbox_idle(bridge: Bridge) -> bool:
    return not any(d["status"] == "pending" for d in bridge.deliveries())


def wait_until(check, timeout: float, what: str, every: float = 1.0) -> Any:  # noqa: ANN001
    """`harness.wait_for`, polling once a second by default (chaos checks read a lot)."""
    return wait_for(check, timeout, what, every)


def failed_jobs(bridge: Bridge) -> dict[str, dict[str, Any]]:
    return {k.decode(): json.loads(v) for k, v in bridge.redis.hgetall("zkb:failed").items()}


def failed_reply_bodies(bridge: Bridge, failed: dict[str, dict[str, Any]]) -> set[str]:
    """Comment bodies of the replies set aside as ReplyOutcomeUnknown (A6's documented window)."""
    bodies = set()
    for ref, entry in failed.items():
        if entry["error"] != "ReplyOutcomeUnknown":
            continue
        raw = bridge.redis.hget(f"zkb:ev:{ref}", "raw")
        bodies.add(json.loads(raw)["event"]["comment"]["body"])
    return bodies


def texts_landed(tickets: list[dict[str, Any]], pattern: re.Pattern[str]) -> dict[str, list[str]]:
    """Comment bodies matching `pattern` per conversation external_id, tickets oldest first:
    what each customer's conversation shows in Zendesk, in order."""
    out: dict[str, list[str]] = {}
    for t in sorted(tickets, key=lambda t: t["id"]):
        ext = t.get("external_id") or ""
        for c in t["comments"]:
            if pattern.fullmatch(c["body"] or ""):
                out.setdefault(ext, []).append(c["body"])
    return out


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (Linux /proc), e.g. gunicorn's worker processes."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


class TextLoad(threading.Thread):
    """Customer texts, desk tickets and closures at a steady pace, from a thread, while the
    test pulls processes down. Each round is one delivery holding one text per customer; the
    next round waits until the sandbox has finished with it (acknowledged, or dropped after
    its retries), so a conversation's texts are never in flight in two deliveries at once.

    `hold()` parks the thread between rounds (nothing of ours in flight), `resume()` lets it go.
    """

    def __init__(self, bridge: Bridge, phones: list[str], rounds: int, interval: float,
                 tag: str) -> None:
        super().__init__(daemon=True, name=f"load-{tag}")
        self.bridge, self.phones, self.rounds, self.interval = bridge, phones, rounds, interval
        self.tag = tag
        # (body, event id, delivery id, acknowledged at or None), in send order
        self.texts: list[tuple[str, str, int, float | None]] = []
        self.desk: list[int] = []
        self.closed: list[int] = []
        self.error: BaseException | None = None
        self._go = threading.Event()
        self._go.set()
        self._resting = threading.Event()

    def run(self) -> None:
        try:
            for r in range(self.rounds):
                if not self._go.is_set():
                    self._resting.set()
                    self._go.wait()
                    self._resting.clear()
                self._round(r)
                time.sleep(self.interval)
        except BaseException as e:  # noqa: BLE001 - surfaced by the test through .error
            self.error = e
        finally:
            self._resting.set()

    def _round(self, r: int) -> None:
        bodies = [f"{self.tag} {c:03d}-{r:03d}" for c in range(len(self.phones))]
        answer = self.bridge.text_batch([{"from": p, "to": TOLL_FREE, "body": b}
                                         for p, b in zip(self.phones, bodies, strict=True)])
        self.desk.append(self.bridge.desk_ticket(
            requester_email=f"{self.tag}{r:03d}@chaos.example.com",
            subject=f"{self.tag} desk {r}", body=f"{self.tag} desk ticket {r}")["id"])
        if len(self.desk) > 1:
            self.bridge.set_status(self.desk[-2], "closed")
            self.closed.append(self.desk[-2])
        rec = wait_delivered(self.bridge, [answer["delivery_id"]])[answer["delivery_id"]]
        acked = acknowledged_at(rec)
        self.texts += [(b, e, answer["delivery_id"], acked)
                       for b, e in zip(bodies, answer["event_ids"], strict=True)]

    def hold(self, timeout: float = 60) -> None:
        self._go.clear()
        if not self._resting.wait(timeout):
            raise AssertionError("the load did not pause")

    def resume(self) -> None:
        self._go.set()

    def finish(self, timeout: float = 120) -> None:
        self.resume()
        self.join(timeout)
        if self.error is not None:
            raise self.error
        if self.is_alive():
            raise RuntimeError("the load did not finish")

    def close_last(self) -> None:
        if self.desk and self.desk[-1] not in self.closed:
            self.bridge.set_status(self.desk[-1], "closed")
            self.closed.append(self.desk[-1])


class Supervisor(threading.Thread):
    """Starts again a stack process that exits on its own, as the deployment's process manager
    does (docker compose: `restart: unless-stopped`), and notes it for the report. The test's
    own kills and restarts happen inside `hands_off()`."""

    def __init__(self, stack: Stack, names: tuple[str, ...] = ("worker", "beat", "web")) -> None:
        super().__init__(daemon=True, name="supervisor")
        self.stack, self.names = stack, names
        self.restarts: list[str] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._began = time.monotonic()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            with self._lock:
                for name in self.names:
                    proc = self.stack.procs.get(name)
                    if proc is not None and not proc.alive():
                        self.restarts.append(f"{name} exited at "
                                             f"{time.monotonic() - self._began:.0f}s")
                        self.stack.start_process(name)

    @contextmanager
    def hands_off(self) -> Iterator[None]:
        with self._lock:
            yield

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
