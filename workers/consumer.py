"""The worker's Celery consumer, made to survive a Redis restart under load (issue 14).

Celery 5.7, on losing the broker after it had connected, first collects the connection (which
detaches its transport) and then closes it; closing the channel then restores the messages
the worker still holds (`Restoring N unacknowledged message(s)`) through that detached
transport and raises `AttributeError: 'NoneType' object has no attribute 'hostname'` from
kombu's `_connparams`, which Celery does not count as a connection error: the worker logs
"Unrecoverable error" and exits. (Seen in tests/chaos/test_broker_restarts.py: Redis killed
with tasks in flight.) Here that error ends the clean-up instead of the worker; the consumer
reconnects as after any lost connection. The messages it held stay in kombu's `unacked` hash
and are delivered again after the visibility timeout (tasks are idempotent).

The same AttributeError also reaches the worker from an ack: a task that finishes while the
connection is being collected acks through the detached transport. `install_kombu_guard` makes
the detached channel raise redis's ConnectionError instead, which Celery does handle (the ack is
logged as failed, the message stays unacked and is delivered again); seen in CI, 2026-12-05.

Selected by `worker_consumer` in workers/celery_app.py; loading it installs the guard.
"""

from __future__ import annotations

import logging

import redis
from celery.worker.consumer import Consumer
from kombu.transport.redis import Channel

log = logging.getLogger("zkbridge.worker")


class ResilientConsumer(Consumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as e:
            self.connection = None
            log.warning("broker connection lost; its clean-up failed, reconnecting anyway",
                        extra={"fields": {"error": repr(e)[:200]}})


def install_kombu_guard() -> None:
    """A Redis channel whose connection was collected raises ConnectionError, not
    AttributeError, when it is asked for a connection pool (see the module's docstring)."""
    original = Channel._connparams
    if getattr(original, "zkb_guard", False):
        return

    def connparams(self: Channel, asynchronous: bool = False) -> dict:
        transport = getattr(self, "connection", None)
        if transport is None or getattr(transport, "client", None) is None:
            raise redis.exceptions.ConnectionError("the broker connection was closed")
        return original(self, asynchronous=asynchronous)

    connparams.zkb_guard = True      # type: ignore[attr-defined]
    Channel._connparams = connparams  # type: ignore[method-assign]


install_kombu_guard()
