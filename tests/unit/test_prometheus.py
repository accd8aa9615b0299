"""/metrics: Redis-side meters (bridge/adapters/meters.py) and the collector that exposes them
(webapp/prometheus.py). Several processes share one Redis, so two clients stand for a gunicorn
process and a Celery worker writing to the same server."""

from __future__ import annotations

import fakeredis
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridge.adapters import meters
from bridge.adapters.outcomes import Outcomes
from bridge.domain.brand_scope import scope
from tests.support import exposition
from webapp.prometheus import BridgeCollector

D = ("brand", "default")     # the label every series of the outcome counters gains (E7)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def client(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=server)


def scrape(r: fakeredis.FakeRedis) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label pairs: value}} as a Prometheus server would parse it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(Outcomes(r).readings))
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_status_classes_keep_429_apart_and_name_network_errors() -> None:
    assert [meters.status_class(s) for s in (200, 201, 302, 404, 429, 503, None)] == [
        "2xx", "2xx", "3xx", "4xx", "429", "5xx", "error"]


def test_an_observation_lands_in_the_smallest_bucket_that_holds_it() -> None:
    assert meters.bucket_of(0.1) == "0.25"
    assert meters.bucket_of(0.25) == "0.25"
    assert meters.bucket_of(0.26) == "0.5"
    assert meters.bucket_of(7200) == "+Inf"


def test_counts_written_by_different_processes_add_up_in_one_scrape(server) -> None:  # noqa: ANN001
    web, worker = client(server), client(server)
    web.hincrby("zkb:counters", "klaviyo:received:", 3)
    web.hincrby("zkb:counters", "zendesk:rejected:bad_signature", 1)
    meters.record_outcome(worker, "inbound_sms", "processed", "", latency=0.4)
    meters.record_outcome(client(server), "inbound_sms", "processed", "", latency=2.0)
    meters.record_outcome(worker, "inbound_sms", "dropped", "not_consented")
    worker.hincrby("zkb:counters", "inbound_sms:failed:Retryable", 1)

    m = scrape(client(server))

    assert m["zkb_webhook_events_received_total"] == {(D, ("source", "klaviyo")): 3.0,
                                                     (D, ("source", "zendesk")): 0.0}
    assert m["zkb_webhook_rejected_total"] == {(D, ("reason", "bad_signature"),
                                                ("source", "zendesk")): 1.0}
    task = ("task", "bridge.inbound_sms")
    assert m["zkb_jobs_processed_total"] == {(D, ("kind", "inbound_sms"), task): 2.0}
    assert m["zkb_jobs_dropped_total"] == {(D, ("kind", "inbound_sms"),
                                            ("reason", "not_consented"), task): 1.0}
    assert m["zkb_jobs_failed_total"] == {(D, ("error", "Retryable"), ("kind", "inbound_sms"),
                                           task): 1.0}


def test_latency_buckets_are_exposed_cumulative_with_sum_and_count(server) -> None:  # noqa: ANN001
    r = client(server)
    for seconds in (0.1, 0.4, 0.4, 3.0, 5000.0):
        meters.record_outcome(r, "agent_reply", "processed", "", latency=seconds)
    meters.record_outcome(r, "agent_reply", "dropped", "own_comment")   # no latency observed

    m = scrape(r)
    buckets = {dict(k)["le"]: v for k, v in m["zkb_event_latency_seconds_bucket"].items()}
    assert buckets["0.25"] == 1 and buckets["0.5"] == 3 and buckets["5.0"] == 4
    assert buckets["3600.0"] == 4 and buckets["+Inf"] == 5
    assert m["zkb_event_latency_seconds_count"] == {(("kind", "agent_reply"),): 5.0}
    assert m["zkb_event_latency_seconds_sum"][(("kind", "agent_reply"),)] == pytest.approx(
        5003.9)


def test_upstream_calls_and_429s_by_api_and_endpoint(server) -> None:  # noqa: ANN001
    observe = meters.upstream_observer(client(server))
    for status in (201, 201, 429, 503, None):
        observe("zendesk", "POST tickets", status)
    observe("klaviyo", "POST conversation-messages", 429)

    m = scrape(client(server))
    calls = {(dict(k)["api"], dict(k)["endpoint"], dict(k)["status"]): v
             for k, v in m["zkb_upstream_calls_total"].items()}
    assert calls == {("zendesk", "POST tickets", "2xx"): 2, ("zendesk", "POST tickets", "429"): 1,
                     ("zendesk", "POST tickets", "5xx"): 1,
                     ("zendesk", "POST tickets", "error"): 1,
                     ("klaviyo", "POST conversation-messages", "429"): 1}
    assert {dict(k)["api"]: v for k, v in m["zkb_upstream_rate_limited_total"].items()} == {
        "zendesk": 1, "klaviyo": 1}


def test_queue_depths_unacked_failed_and_retries(server) -> None:  # noqa: ANN001
    r = client(server)
    r.lpush("zkb.klaviyo", "a", "b")
    r.lpush("zkb.zendesk", "c")
    r.hset("unacked", "tag1", "x")
    r.hset("zkb:failed", "klaviyo:1", "{}")
    meters.count_retry(r, "bridge.inbound_sms", "retryable")
    meters.count_retry(r, "bridge.inbound_sms", "retryable")
    meters.count_retry(r, "bridge.zendesk_event", "rate_limited")

    m = scrape(r)
    assert {dict(k)["queue"]: v for k, v in m["zkb_queue_depth"].items()} == {
        "zkb.klaviyo": 2, "zkb.zendesk": 1, "zkb.maintenance": 0, "zkb.interactive": 0,
        "zkb.background": 0}
    assert m["zkb_queue_unacked"] == {(): 1.0}
    assert m["zkb_failed_jobs"] == {(): 1.0}
    assert m["zkb_jobs_retried_total"] == {
        (("reason", "retryable"), ("task", "bridge.inbound_sms")): 2.0,
        (("reason", "rate_limited"), ("task", "bridge.zendesk_event")): 1.0}


def test_unused_topics_are_exposed_as_ignored_events_not_as_jobs(server) -> None:  # noqa: ANN001
    r = client(server)
    r.hincrby("zkb:counters", "klaviyo:dropped:topic:event:klaviyo.opened_sms", 2)
    r.hincrby("zkb:counters", "agent_reply:outcome_unknown:", 1)
    m = scrape(r)
    assert m["zkb_webhook_events_ignored_total"] == {
        (D, ("source", "klaviyo"), ("topic", "event:klaviyo.opened_sms")): 2.0}
    assert "zkb_jobs_dropped_total" not in m
    assert m["zkb_jobs_other_total"] == {(D, ("kind", "agent_reply"),
                                          ("outcome", "outcome_unknown"), ("reason", ""),
                                          ("task", "bridge.zendesk_event")): 1.0}


def test_a_meter_write_never_fails_the_job_when_redis_is_gone() -> None:
    down = fakeredis.FakeServer()
    down.connected = False  # fakeredis: every command raises ConnectionError
    dead = fakeredis.FakeRedis(server=down)
    assert meters.upstream_observer(dead)("zendesk", "POST tickets", 201) is None
    assert meters.count_retry(dead, "bridge.inbound_sms", "retryable") is None


def every_kind_of_counter(r: fakeredis.FakeRedis) -> None:
    """One of each counter the processes write, including processed counters with a reason
    (`sweep`, `bulk`) beside ones without, for the same kind."""
    for key, n in {"klaviyo:received:": 4, "zendesk:rejected:bad_signature": 1,
                   "zendesk:dropped:topic:ticket.merged": 2,
                   "zendesk_event:processed:": 3, "zendesk_event:processed:sweep": 1,
                   "agent_reply:processed:": 2, "ticket_metric:processed:sweep": 1,
                   "ticket_metric:processed:bulk": 5, "ticket_metric:dropped:already_recorded": 1,
                   "ticket_metric:recorded:Opened Ticket": 6,
                   "inbound_sms:failed:Retryable": 1, "agent_reply:outcome_unknown:": 1}.items():
        r.hincrby("zkb:counters", key, n)
    meters.record_outcome(r, "inbound_sms", "processed", "", latency=0.3)
    meters.count_retry(r, "bridge.inbound_sms", "rate_limited")
    meters.upstream_observer(r)("zendesk", "POST tickets", 429)


def test_the_scrape_passes_a_strict_exposition_parser_without_duplicate_series(server) -> None:  # noqa: ANN001
    r = client(server)
    every_kind_of_counter(r)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(Outcomes(r).readings))
    series = exposition.parse(generate_latest(registry).decode())
    processed = {labels: v for (name, labels), v in series.items()
                 if name == "zkb_jobs_processed_total"}
    assert processed == {
        (D, ("kind", "zendesk_event"), ("task", "bridge.zendesk_event")): 4.0,  # 3 + 1 (sweep)
        (D, ("kind", "agent_reply"), ("task", "bridge.zendesk_event")): 2.0,
        (D, ("kind", "ticket_metric"), ("task", "bridge.ticket_metric")): 6.0,  # 1 + 5 (bulk)
        (D, ("kind", "inbound_sms"), ("task", "bridge.inbound_sms")): 1.0}


def test_ticket_metrics_are_counted_by_name_both_present_from_the_first_scrape(server) -> None:  # noqa: ANN001
    r = client(server)
    assert scrape(r)["zkb_ticket_metrics_recorded_total"] == {
        (D, ("metric", "Opened Ticket")): 0.0, (D, ("metric", "Resolved Ticket")): 0.0}
    r.hincrby("zkb:counters", "ticket_metric:recorded:Opened Ticket", 2)
    r.hincrby("zkb:counters", "ticket_metric:recorded:Resolved Ticket", 1)
    m = scrape(r)
    assert m["zkb_ticket_metrics_recorded_total"] == {
        (D, ("metric", "Opened Ticket")): 2.0, (D, ("metric", "Resolved Ticket")): 1.0}
    assert "zkb_jobs_other_total" not in m   # not mistaken for a job outcome


def test_the_strict_parser_refuses_a_duplicate_series() -> None:
    text = '# TYPE x_total counter\nx_total{a="1"} 1.0\nx_total{a="1"} 2.0\n'
    with pytest.raises(AssertionError, match="duplicate series"):
        exposition.parse(text)


# --- the brand label (E7, #16) ----------------------------------------------------------------
def scrape_brands(r: fakeredis.FakeRedis, brands: tuple[str, ...]) -> dict[tuple, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(Outcomes(r).readings, brands=brands))
    return exposition.parse(generate_latest(registry).decode())


def test_counters_recorded_in_a_brands_scope_carry_its_label_and_todays_fields_are_default(
        server) -> None:  # noqa: ANN001
    r = client(server)
    r.hincrby("zkb:counters", "inbound_sms:processed:", 4)          # stored before brands
    with scope("shop2"):
        meters.record_outcome(r, "inbound_sms", "processed", "", latency=0.2)
        Outcomes(r).count("inbound_sms", "dropped", "not_consented")
        Outcomes(r).count("ticket_metric", "recorded", "Opened Ticket", amount=2)
    Outcomes(r).count("inbound_sms", "dropped", "not_consented")    # outside a scope: default
    assert r.hget("zkb:counters", "inbound_sms@shop2:processed:") == b"1"
    assert r.hget("zkb:counters", "inbound_sms:dropped:not_consented") == b"1"

    series = scrape_brands(r, ("default", "shop2"))
    task, kind = ("task", "bridge.inbound_sms"), ("kind", "inbound_sms")
    assert {labels: v for (name, labels), v in series.items()
            if name == "zkb_jobs_processed_total"} == {
        (D, kind, task): 4.0, (("brand", "shop2"), kind, task): 1.0}
    assert {labels: v for (name, labels), v in series.items()
            if name == "zkb_jobs_dropped_total"} == {
        (D, kind, ("reason", "not_consented"), task): 1.0,
        (("brand", "shop2"), kind, ("reason", "not_consented"), task): 1.0}
    opened = ("metric", "Opened Ticket")
    assert series[("zkb_ticket_metrics_recorded_total", (("brand", "shop2"), opened))] == 2
    assert series[("zkb_ticket_metrics_recorded_total", (D, opened))] == 0


def test_every_configured_brand_has_its_series_from_the_first_scrape(server) -> None:  # noqa: ANN001
    series = scrape_brands(client(server), ("default", "shop2"))
    received = {labels for (name, labels), _ in series.items()
                if name == "zkb_webhook_events_received_total"}
    assert received == {(D, ("source", "klaviyo")), (D, ("source", "zendesk")),
                        (("brand", "shop2"), ("source", "klaviyo"))}   # one Zendesk webhook
    assert series[("zkb_opt_out_requests_total", (("brand", "shop2"),))] == 0
    assert series[("zkb_repaired_total", (("brand", "shop2"), ("what", "stranded_queue")))] == 0


def test_a_brands_counter_field_round_trips_and_a_reason_may_hold_colons() -> None:
    field = meters.counter_field("klaviyo", "dropped", "topic:event:klaviyo.opened_sms", "shop2")
    assert field == "klaviyo@shop2:dropped:topic:event:klaviyo.opened_sms"
    assert meters.split_counter(field) == ("shop2", "klaviyo", "dropped",
                                           "topic:event:klaviyo.opened_sms")
    assert meters.split_counter("klaviyo:received:") == ("default", "klaviyo", "received", "")
    assert meters.counter_field("klaviyo", "received", brand="default") == "klaviyo:received:"
    assert meters.by_brand({"a:b:": 1, "a@x:b:": 2, "a@x:c:d": 3}) == {
        "default": {"a:b:": 1}, "x": {"a:b:": 2, "a:c:d": 3}}
