"""The pipeline floor: the bridge's Celery app settings (`make_celery`: Redis broker, JSON,
acks_late, prefetch 1, ...) with one task that does nothing, on a queue of its own.

    celery -A bench.noop_app worker -Q bench.noop   (bench/pipeline.py starts it from the
    Procfile `worker` line, so pool and concurrency are the bridge worker's)
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

from bridge.config import Settings, default
from workers.celery_app import make_celery

QUEUE = TASK = "bench.noop"


def noop() -> None:
    """Nothing: what remains is Celery's own cost per task (fetch, ack, bookkeeping)."""


def make_app(broker_url: str | None = None) -> Celery:
    """The bridge's settings for Celery; the vendor fields are placeholders (no task calls
    a vendor here)."""
    settings = Settings(zendesk_url="https://bench.zendesk.com", zendesk_webhook_secret="-",
                        klaviyo_api_key="-", klaviyo_webhook_secret="-",
                        redis_url=broker_url or os.environ.get("REDIS_URL")
                        or str(default("redis_url")))
    app = make_celery(settings)
    app.conf.update(
                    task_queues=[Queue(QUEUE, Exchange("", type="direct"), routing_key=QUEUE)],
                    task_routes={TASK: {"queue": QUEUE, "routing_key": QUEUE}},
                    beat_schedule={})
    app.task(name=TASK, acks_late=True)(noop)
    return app


app = make_app()
