"""A worker survives an ack through a broker connection Celery has already collected (#14):
kombu's Redis channel then raises redis's ConnectionError, which Celery handles, instead of an
AttributeError, which made the worker exit ("Unrecoverable error")."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis
from kombu.transport.redis import Channel

import workers.consumer  # noqa: F401 - loading the consumer installs the guard


def test_a_collected_connection_is_a_connection_error_not_an_attribute_error() -> None:
    detached = SimpleNamespace(connection=SimpleNamespace(client=None))
    with pytest.raises(redis.exceptions.ConnectionError, match="broker connection was closed"):
        Channel._connparams(detached)
