"""Integration fixtures: a redis-server of our own on a free port (never the shared 6379), and
the receiver app built as production builds it (`create_app(settings, store, celery)`), driven
through Flask's test client. The receiver never calls upstream APIs and no worker runs: tests
read what it enqueued straight from the Redis lists."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient

from bridge import bootstrap
from bridge.adapters.store import Store
from bridge.config import Settings
from scripts.devstack import free_port, redis_server_binary
from tests.integration.support import (
    KLAVIYO_API_KEY,
    KLAVIYO_SECRET,
    ZENDESK_API_TOKEN,
    ZENDESK_SECRET,
)
from webapp.app import create_app
from workers.celery_app import make_celery

UPSTREAM = "http://127.0.0.1:9"   # discard port: nothing may call it, and nothing does


def sandbox_env(redis_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "REDIS_URL": redis_url,
        "ZENDESK_URL": UPSTREAM,
        "ZENDESK_EMAIL": "bridge@acme-shop.test",
        "ZENDESK_API_TOKEN": ZENDESK_API_TOKEN,
        "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
        "KLAVIYO_API_KEY": KLAVIYO_API_KEY,
        "KLAVIYO_BASE_URL": UPSTREAM,
        "KLAVIYO_WEBHOOK_SECRET": KLAVIYO_SECRET,
        "SYNC_SMS_CONVERSATIONS": "true",
        "ALLOW_INSECURE_UPSTREAMS": "true",
    }
    env.update(overrides)
    return env


@dataclass
class Receiver:
    app: Flask
    client: FlaskClient
    settings: Settings
    store: Store
    celery: Celery


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Our own redis-server on a free loopback port, no persistence; stopped at the end."""
    binary = shutil.which("redis-server") or redis_server_binary()
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {port} did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def r(redis_server: str) -> Iterator[redis.Redis]:
    """A client on our own server, emptied before each test (we own this server)."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: a Redis that is down."""
    return free_port()


@pytest.fixture
def make_receiver(r: redis.Redis, redis_server: str) -> Iterator[Callable[..., Receiver]]:
    """Build receiver apps; `redis_url`/`broker_url` default to our server, `env` overrides."""
    built: list[Receiver] = []

    def build(redis_url: str | None = None, broker_url: str | None = None,
              **env: str) -> Receiver:
        settings = Settings.from_env(sandbox_env(redis_url or redis_server, **env))
        broker_settings = (settings if broker_url is None
                           else Settings.from_env(sandbox_env(broker_url, **env)))
        store = bootstrap.store(settings)
        celery = make_celery(broker_settings)
        app = create_app(settings, store, celery)
        receiver = Receiver(app, app.test_client(), settings, store, celery)
        built.append(receiver)
        return receiver

    yield build
    for receiver in built:
        receiver.celery.close()
        receiver.store.client.close()


@pytest.fixture
def receiver(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver()
