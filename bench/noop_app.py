"""The pipeline floor: the bridge's Celery app settings (`make_celery`: Redis broker, JSON,
acks_late, prefetch 1, ...) with one task that does nothing, on a queue of its own.

    celery -A bench.noop_app worker -Q bench.noop   (bench/pipeline.py starts it from the
    Procfile `worker` line, so pool and concurrency are the bridge worker's)
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

from workers.celery_app import make_celery

QUEUE = TASK = "bench.noop"


def noop() -> None:
    """Nothing: what remains is Celery's own cost per task (fetch, ack, bookkeeping)."""


def make_app(broker_url: str | None = None) -> Celery:
    app = make_celery()
    app.conf.update(broker_url=broker_url or os.environ.get("REDIS_URL"),
                    task_queues=[Queue(QUEUE, Exchange("", type="direct"), routing_key=QUEUE)],
                    task_routes={TASK: {"queue": QUEUE, "routing_key": QUEUE}},
                    beat_schedule={})
    app.task(name=TASK, acks_late=True)(noop)
    return app


app = make_app()
