"""The one place a Redis connection pool is made (bootstrap asks for it once per process)."""

from __future__ import annotations

import redis


def connect(url: str) -> redis.Redis:
    """Short timeouts (a dead Redis must fail fast: the receiver answers 503 and the vendor
    retries) and a health check on idle pooled connections (a restart closes them)."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3,
                                health_check_interval=30)
