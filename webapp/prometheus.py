"""GET /metrics in Prometheus' text format, read from Redis at scrape time.

The numbers are made by every receiver and worker process (bridge/adapters/meters.py and the outcome
counters of store.py), so they are read where they all meet, in Redis, by a custom collector:
any gunicorn process answers the scrape with the fleet's totals, and restarts reset nothing.
Unauthenticated by custom; METRICS_REQUIRE_AUTH=true asks for OPS_TOKEN (Bearer) like /ops.

The outcome counters (`zkb:counters`) carry a `brand` label (E7, #16; docs/brands.md): a label
added, no series renamed; what was stored before brands is `brand="default"`. The Zendesk
webhook's receipts are the default brand's (one webhook for all brands). Queues, upstream calls,
retries and latency are the fleet's, without a brand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import redis
from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bridge.adapters import meters
from bridge.adapters.store import Store
from bridge.config import Settings
from bridge.domain.brand_scope import DEFAULT
from webapp.auth import denied
from workers.queues import QUEUES

bp = Blueprint("metrics", __name__)
WEBHOOK_SOURCES = ("klaviyo", "zendesk")
TASK_OF_KIND = {"inbound_sms": "bridge.inbound_sms", "received_sms": "bridge.received_sms",
                "zendesk_event": "bridge.zendesk_event", "agent_reply": "bridge.zendesk_event",
                "ticket_metric": "bridge.ticket_metric"}
RECORDED = "recorded"   # `ticket_metric:recorded:<metric name>`, counted by ticket_metric.py
TICKET_METRICS = ("Opened Ticket", "Resolved Ticket")
REPAIRED = "repaired"   # `sweep:repaired:<what>`, counted by bridge/handlers/sweep.py
REPAIRS = ("unconfirmed_enqueue", "stranded_queue")
OPT_OUT_REQUESTS = "inbound_sms:processed:opt_out_request"   # S10, handlers/sms_inbound.py
ByBrand = list[tuple[str, dict[str, int]]]   # (brand, its counters), by name


class BridgeCollector(Collector):
    def __init__(self, read: Callable[[Iterable[str]], meters.Readings],
                 queues: Iterable[str] = QUEUES, brands: Iterable[str] = (DEFAULT,)) -> None:
        self.read, self.queues, self.brands = read, tuple(queues), tuple(brands)

    def collect(self) -> Iterator[Metric]:
        yield from families(self.read(self.queues), self.brands)


def families(r: meters.Readings, brands: Iterable[str] = (DEFAULT,)) -> list[Metric]:
    """Readings → metric families (pure, so the mapping is tested without Redis). The outcome
    counters carry a `brand` label (E7): every configured brand's series are present from the
    first scrape, and a field stored without a brand is the default brand's."""
    per_brand = {name: {} for name in brands} | meters.by_brand(r.counters)
    by = sorted(per_brand.items())
    return [*_webhooks(by), *_queues(r), *_jobs(by, r.retries),
            _ticket_metrics(by), _repaired(by), _opt_out_requests(by),
            *_upstream(r.upstream),
            _latency(r.latency)]


def _webhooks(by: ByBrand) -> list[Metric]:
    received = CounterMetricFamily("zkb_webhook_events_received",
                                   "Events accepted by the receiver (after signature check)",
                                   labels=["source", "brand"])
    rejected = CounterMetricFamily("zkb_webhook_rejected",
                                   "Webhook deliveries refused, by reason",
                                   labels=["source", "reason", "brand"])
    ignored = CounterMetricFamily("zkb_webhook_events_ignored",
                                  "Events of topics the bridge does not use",
                                  labels=["source", "topic", "brand"])
    for brand, counters in by:
        for source in WEBHOOK_SOURCES:   # present from the first scrape, so rate() has a start
            if source in _sources(brand) or f"{source}:received:" in counters:
                received.add_metric([source, brand], counters.get(f"{source}:received:", 0))
        for key, value in sorted(counters.items()):
            source, outcome, reason = _split(key)
            if source not in WEBHOOK_SOURCES:
                continue
            if outcome == "rejected":
                rejected.add_metric([source, reason, brand], value)
            elif outcome == "dropped":
                ignored.add_metric([source, reason.removeprefix("topic:"), brand], value)
    return [received, rejected, ignored]


def _sources(brand: str) -> tuple[str, ...]:
    """The one Zendesk webhook's deliveries are the default brand's (a ticket's brand is known
    only in its task); each brand has its own Klaviyo webhook."""
    return WEBHOOK_SOURCES if brand == DEFAULT else ("klaviyo",)


def _queues(r: meters.Readings) -> list[Metric]:
    depth = GaugeMetricFamily("zkb_queue_depth", "Tasks waiting in each Celery queue",
                              labels=["queue"])
    for queue, n in r.queues.items():
        depth.add_metric([queue], n)
    return [depth,
            GaugeMetricFamily("zkb_queue_unacked",
                              "Tasks delivered to a worker and not yet acknowledged",
                              value=r.unacked),
            GaugeMetricFamily("zkb_failed_jobs", "Jobs set aside in failed jobs (replayable)",
                              value=r.failed)]


def _jobs(by: ByBrand, retries: dict[tuple[str, str], int]) -> list[Metric]:
    processed = CounterMetricFamily("zkb_jobs_processed", "Events applied, by task and kind",
                                    labels=["task", "kind", "brand"])
    dropped = CounterMetricFamily("zkb_jobs_dropped", "Events deliberately not applied",
                                  labels=["task", "kind", "reason", "brand"])
    failed = CounterMetricFamily("zkb_jobs_failed", "Events set aside as failed, by error",
                                 labels=["task", "kind", "error", "brand"])
    other = CounterMetricFamily("zkb_jobs_other", "Other job outcomes (e.g. outcome_unknown)",
                                labels=["task", "kind", "outcome", "reason", "brand"])
    retried = CounterMetricFamily("zkb_jobs_retried", "Task retries, by task and cause",
                                  labels=["task", "reason"])
    for brand, counters in by:
        summed: dict[tuple[str, str], int] = {}
        for key, value in sorted(counters.items()):
            kind, outcome, reason = _split(key)
            if kind in WEBHOOK_SOURCES or outcome in (RECORDED, REPAIRED):
                continue
            task = TASK_OF_KIND.get(kind, "")
            if outcome == "processed":   # the reason is at most a note ("sweep", "bulk"): summed
                summed[(task, kind)] = summed.get((task, kind), 0) + value
            elif outcome == "dropped":
                dropped.add_metric([task, kind, reason, brand], value)
            elif outcome == "failed":
                failed.add_metric([task, kind, reason, brand], value)
            else:
                other.add_metric([task, kind, outcome, reason, brand], value)
        for (task, kind), value in summed.items():
            processed.add_metric([task, kind, brand], value)
    for (task, why), value in sorted(retries.items()):
        retried.add_metric([task, why], value)
    return [processed, dropped, failed, other, retried]


def _ticket_metrics(by: ByBrand) -> Metric:
    """`Opened Ticket` / `Resolved Ticket` events recorded on Klaviyo profiles, by name (both
    present from the first scrape, for every brand)."""
    family = CounterMetricFamily("zkb_ticket_metrics_recorded",
                                 "Ticket metric events sent to Klaviyo (or parked for its bulk "
                                 "endpoint), by metric name", labels=["metric", "brand"])
    for brand, counters in by:
        for name in TICKET_METRICS:
            family.add_metric([name, brand],
                              counters.get(f"ticket_metric:{RECORDED}:{name}", 0))
    return family


def _repaired(by: ByBrand) -> Metric:
    """Events the sweep had to re-queue because no broker message carried them any more: a
    receiver died before confirming its publish, or the broker lost a message (issue 14).
    Both present from the first scrape; a brand alerts on any increase."""
    family = CounterMetricFamily("zkb_repaired", "Events the sweep had to re-queue (no broker "
                                 "message carried them any more), by what was repaired",
                                 labels=["what", "brand"])
    for brand, counters in by:
        for what in REPAIRS:
            family.add_metric([what, brand], counters.get(f"sweep:{REPAIRED}:{what}", 0))
    return family


def _opt_out_requests(by: ByBrand) -> Metric:
    """Texts that asked in plain words to stop (S10): applied as comments, the ticket tagged
    and noted. A rise after a campaign says its wording upset people."""
    family = CounterMetricFamily("zkb_opt_out_requests",
                                 "Customer texts that asked to stop in words that are not a "
                                 "keyword (rule S10): tagged sms_optout_request, agent noted",
                                 labels=["brand"])
    for brand, counters in by:
        family.add_metric([brand], counters.get(OPT_OUT_REQUESTS, 0))
    return family


def _upstream(upstream: dict[tuple[str, str, str], int]) -> list[Metric]:
    calls = CounterMetricFamily("zkb_upstream_calls",
                                "Zendesk and Klaviyo requests (every attempt), by endpoint and "
                                "status class ('error': no answer)",
                                labels=["api", "endpoint", "status"])
    limited = CounterMetricFamily("zkb_upstream_rate_limited", "429 answers from the vendor",
                                  labels=["api", "endpoint"])
    for (api, endpoint, status), value in sorted(upstream.items()):
        calls.add_metric([api, endpoint, status], value)
        if status == "429":
            limited.add_metric([api, endpoint], value)
    return [calls, limited]


def _latency(latency: dict[str, meters.Histogram]) -> Metric:
    family = HistogramMetricFamily("zkb_event_latency_seconds",
                                   "From the webhook's receipt to the event applied upstream",
                                   labels=["kind"])
    for kind, h in latency.items():
        family.add_metric([kind], h.buckets, sum_value=h.total)
    return family


def _split(key: str) -> tuple[str, str, str]:
    kind, _, rest = key.partition(":")
    outcome, _, reason = rest.partition(":")
    return kind, outcome, reason


@bp.get("/metrics")
def metrics() -> Response:
    settings: Settings = current_app.extensions["zkb.settings"]
    if settings.metrics_require_auth:
        answer = denied(settings)
        if answer is not None:
            return answer
    store: Store = current_app.extensions["zkb.store"]
    registry = CollectorRegistry(auto_describe=False)
    names = [b.name for b in current_app.extensions.get("zkb.brands", ())] or [DEFAULT]
    registry.register(BridgeCollector(store.outcomes.readings, brands=names))
    try:
        body = generate_latest(registry)
    except redis.RedisError:
        return Response("Redis does not answer; no metrics\n", status=503,
                        mimetype="text/plain", headers={"Retry-After": "5"})
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
