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

Selected by `worker_consumer` in workers/celery_app.py.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer

log = logging.getLogger("zkbridge.worker")


class ResilientConsumer(Consumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as e:
            self.connection = None
            log.warning("broker connection lost; its clean-up failed, reconnecting anyway",
                        extra={"fields": {"error": repr(e)[:200]}})
