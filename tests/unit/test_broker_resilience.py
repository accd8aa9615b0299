"""The Celery app rides through a Redis restart or a Sentinel failover (issue 14): its broker
settings, the `sentinel://` broker it builds from REDIS_SENTINELS, and the settings' checks.
The behaviour itself is proven against real processes in tests/chaos/test_broker_restarts.py
and tests/chaos/test_sentinel_failover.py."""

from __future__ import annotations

from pathlib import Path

from bridge.adapters.redis_client import url_credentials
from tests.unit.test_settings import problems, settings
from workers.celery_app import broker_url, make_celery

SENTINEL = {"REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379,10.0.0.3:26380",
            "REDIS_MASTER_NAME": "zkb"}


def test_the_worker_and_beat_retry_the_broker_forever_and_survive_failover_errors() -> None:
    conf = make_celery(settings()).conf
    assert conf.broker_connection_retry and conf.broker_connection_retry_on_startup
    assert conf.broker_connection_max_retries is None
    assert conf.broker_channel_error_retry is True          # READONLY, UNBLOCKED
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is False


def test_the_transport_notices_dead_connections_and_restores_unacked_messages_quickly() -> None:
    options = make_celery(settings(CELERY_VISIBILITY_TIMEOUT="120")).conf.broker_transport_options
    assert options["visibility_timeout"] == 120
    assert options["unacked_restore_interval"] == 10 and options["unacked_restore_throttle"] == 1
    assert options["socket_timeout"] > 1                   # above kombu's 1 s BRPOP
    assert options["socket_keepalive"] is True
    assert 0 < options["health_check_interval"] <= 30
    assert "master_name" not in options


def test_without_sentinels_the_broker_is_redis_url() -> None:
    s = settings(REDIS_URL="redis://:pw@127.0.0.1:6390/3")
    assert broker_url(s) == "redis://:pw@127.0.0.1:6390/3"
    assert s.redis_wait_replicas == 0


def test_sentinels_make_one_sentinel_url_each_with_the_master_name_in_the_options() -> None:
    s = settings(**SENTINEL, REDIS_URL="redis://:p%40ss@ignored:6379/2",
                 REDIS_SENTINEL_PASSWORD="sentinel-pw")
    assert broker_url(s) == ("sentinel://:p%40ss@10.0.0.1:26379/2;"
                             "sentinel://:p%40ss@10.0.0.2:26379/2;"
                             "sentinel://:p%40ss@10.0.0.3:26380/2")
    options = make_celery(s).conf.broker_transport_options
    assert options["master_name"] == "zkb"
    assert options["sentinel_kwargs"]["password"] == "sentinel-pw"
    assert options["visibility_timeout"] == 600            # the plain options are kept


def test_sentinel_means_one_replica_must_confirm_each_delivery_unless_told_otherwise() -> None:
    assert settings(**SENTINEL).redis_wait_replicas == 1
    assert settings(**SENTINEL).redis_wait_ms == 500
    assert settings(**SENTINEL, REDIS_WAIT_REPLICAS="0").redis_wait_replicas == 0
    assert settings(**SENTINEL, REDIS_WAIT_MS="250").redis_wait_ms == 250


def test_the_sentinel_password_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "sentinel-password"
    secret.write_text("from-a-file\n")
    s = settings(**SENTINEL, REDIS_SENTINEL_PASSWORD_FILE=str(secret))
    assert s.redis_sentinel_password == "from-a-file"


def test_sentinel_settings_are_checked_together() -> None:
    assert any("REDIS_MASTER_NAME" in p for p in problems(REDIS_SENTINELS="h:26379"))
    assert any("REDIS_SENTINELS" in p for p in problems(REDIS_MASTER_NAME="zkb"))
    assert any("'nohost'" in p for p in problems(REDIS_SENTINELS="nohost",
                                                 REDIS_MASTER_NAME="zkb"))
    assert any("REDIS_WAIT_MS" in p for p in problems(**SENTINEL, REDIS_WAIT_MS="0"))
    assert any("REDIS_WAIT_REPLICAS" in p for p in problems(**SENTINEL,
                                                            REDIS_WAIT_REPLICAS="-1"))


def test_redis_url_credentials_give_the_database_and_password_the_sentinels_do_not() -> None:
    assert url_credentials("redis://127.0.0.1:6379") == {"db": 0}
    assert url_credentials("redis://user:p%2Fw@h:1/4") == {"db": 4, "username": "user",
                                                           "password": "p/w"}


def test_the_sentinel_compose_file_runs_a_durable_replica_and_three_sentinels() -> None:
    import yaml  # noqa: PLC0415

    root = Path(__file__).resolve().parents[2]
    doc = yaml.safe_load((root / "docker-compose.sentinel.yml").read_text())
    services = doc["services"]
    for node in ("redis", "redis-replica"):
        command = services[node]["command"]
        assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert "--replicaof redis 6379" in services["redis-replica"]["command"]
    sentinels = [n for n in services if n.startswith("sentinel-")]
    assert len(sentinels) == 3
    assert all("sentinel monitor zkb redis 6379 2" in services[n]["command"] for n in sentinels)
    for process in ("web", "worker", "beat", "flower"):
        env = services[process]["environment"]
        assert env["REDIS_SENTINELS"].split(",") == [f"{n}:26379" for n in sentinels]
        assert env["REDIS_MASTER_NAME"] == "zkb"


def test_the_worker_uses_the_consumer_that_survives_a_failed_clean_up(monkeypatch) -> None:  # noqa: ANN001
    """Celery 5.7's own clean-up of a lost connection can raise AttributeError under load (see
    workers/consumer.py): the consumer goes on to reconnect instead of exiting."""
    from celery.worker.consumer import Consumer  # noqa: PLC0415

    from workers.consumer import ResilientConsumer  # noqa: PLC0415

    assert make_celery(settings()).conf.worker_consumer == "workers.consumer:ResilientConsumer"

    def failing_clean_up(self, exc) -> None:  # noqa: ANN001
        self.connection = None
        raise AttributeError("'NoneType' object has no attribute 'hostname'")

    monkeypatch.setattr(Consumer, "on_connection_error_after_connected", failing_clean_up)
    consumer = object.__new__(ResilientConsumer)
    consumer.connection = object()
    consumer.on_connection_error_after_connected(ConnectionError("Redis went away"))
    assert consumer.connection is None
