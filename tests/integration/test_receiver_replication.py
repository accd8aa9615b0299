"""REDIS_WAIT_REPLICAS (docs/scaling.md): the receiver acknowledges a delivery only when a
replica confirmed its writes (`WAIT` on the settle round trip); otherwise 503 + Retry-After,
counted, and the vendor's re-send is recognised rather than queued twice. Against a real
redis-server, then with a real replica of it started by the test."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from scripts.devstack import free_port, redis_server_binary
from tests.integration.conftest import Receiver
from tests.integration.support import KLAVIYO_QUEUE, klaviyo_body, klaviyo_event, klaviyo_headers


@pytest.fixture
def replica_of(tmp_path: Path) -> Iterator[Callable[[str], redis.Redis]]:
    started: list[subprocess.Popen] = []

    def start(primary_url: str) -> redis.Redis:
        primary = redis.Redis.from_url(primary_url).connection_pool.connection_kwargs
        port = free_port()
        started.append(subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path), "--replicaof", "127.0.0.1",
             str(primary["port"])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if client.info("replication").get("master_link_status") == "up":
                    return client
            except redis.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the replica did not sync")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def deliver(receiver: Receiver, event_id: str):  # noqa: ANN201
    body = klaviyo_body([klaviyo_event(event_id)])
    return receiver.client.post("/webhooks/klaviyo", data=body, headers=klaviyo_headers(body))


def test_without_a_replica_to_confirm_the_delivery_is_refused_and_its_resend_accepted_once(
        make_receiver: Callable[..., Receiver], r: redis.Redis, redis_server: str,
        replica_of: Callable[[str], redis.Redis]) -> None:
    receiver = make_receiver(REDIS_WAIT_REPLICAS="1", REDIS_WAIT_MS="50")
    refused = deliver(receiver, "wait-1")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"]
    assert refused.get_json()["error"] == "not_replicated"
    assert receiver.store.outcomes.counters()["klaviyo:rejected:not_replicated"] == 1

    replica = replica_of(redis_server)
    # WAIT answers as soon as the replica confirms; the long bound only keeps a busy machine
    # from turning a slow confirmation into a 503.
    receiver = make_receiver(REDIS_WAIT_REPLICAS="1", REDIS_WAIT_MS="10000")
    resent = deliver(receiver, "wait-1")              # as Klaviyo re-sends after a 503
    assert resent.status_code == 202
    assert resent.get_json() == {"accepted": 1, "queued": 0, "duplicates": 1}
    assert r.llen(KLAVIYO_QUEUE) == 1                  # published once, by the first attempt
    fresh = deliver(receiver, "wait-2")
    assert fresh.status_code == 202 and fresh.get_json()["queued"] == 1
    assert replica.exists("zkb:ev:klaviyo:wait-2")     # acknowledged = on the replica already


def test_without_the_setting_no_wait_is_sent(make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    assert receiver.store.events.wait_replicas == 0
    assert deliver(receiver, "nowait-1").status_code == 202
