"""The one place a Redis connection pool is made (bootstrap asks for it once per process).

Plain Redis from `REDIS_URL`; under Sentinel (`REDIS_SENTINELS` + `REDIS_MASTER_NAME`) a pool
that asks the sentinels where the primary is and asks again after a failover (redis-py's
SentinelConnectionPool), with the database and password still taken from `REDIS_URL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlparse

import redis
from redis.sentinel import Sentinel

# Short timeouts (a dead Redis must fail fast: the receiver answers 503 and the vendor
# retries), keepalive (a primary that vanished without closing its sockets is noticed) and a
# health check on idle pooled connections (a restart or failover closes them).
TIMEOUTS: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 3,
                            "socket_keepalive": True, "health_check_interval": 30}


def connect(url: str, sentinels: Sequence[str] = (), master_name: str | None = None,
            sentinel_password: str | None = None) -> redis.Redis:
    if not sentinels:
        return redis.Redis.from_url(url, **TIMEOUTS)
    if not master_name:
        raise ValueError("REDIS_SENTINELS needs REDIS_MASTER_NAME")
    manager = Sentinel([host_port(s) for s in sentinels],
                       sentinel_kwargs={"password": sentinel_password,
                                        "socket_timeout": 2, "socket_connect_timeout": 2},
                       **TIMEOUTS, **url_credentials(url))
    return manager.master_for(master_name, redis_class=redis.Redis)


def host_port(entry: str) -> tuple[str, int]:
    host, _, port = entry.strip().rpartition(":")
    return host, int(port)


def url_credentials(url: str) -> dict[str, Any]:
    """The database, user and password a REDIS_URL names (the host is the sentinels' to say)."""
    parts = urlparse(url)
    db = parts.path.strip("/")
    out: dict[str, Any] = {"db": int(db) if db.isdigit() else 0}
    if parts.username:
        out["username"] = unquote(parts.username)
    if parts.password:
        out["password"] = unquote(parts.password)
    return out
