"""The /ops page: setup status, queues, workers, outcomes, recent conversations and failed
jobs, with replay and purge (E2, E5). Server-rendered; no JavaScript needed.

Brands (E7, #16): with more than one brand configured, `?brand=<name>` (default: all) shows that
brand's failed jobs and outcome counters, and replay-all/purge-all act on its jobs only; with one
brand the page is as it always was. Every replay and purge runs in its job's brand's scope
(bridge/ops/failed_jobs.py).

Everything behind OPS_TOKEN (auth.py). Replay and purge are POST forms carrying a CSRF token,
answered with a redirect back to the page (so reloading never repeats them); what was done is
kept in Redis for a few minutes under a random id the redirect names, so any receiver process
can show it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis
from celery import Celery
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from bridge import bootstrap
from bridge.adapters.store import Store
from bridge.config import Settings
from bridge.domain.redact import redact_url
from bridge.ops.failed_jobs import list_failed, purge, replay, replay_many
from bridge.ops.setup_check import Check, run_checks
from webapp.auth import csrf_ok, csrf_token, ops_only
from webapp.ops_view import (
    Cached,
    brand_counters,
    held_replies,
    outcomes,
    ping_workers,
    queue_depths,
    recent_conversations,
    repaired,
    ticket_metrics,
    when,
)
from workers.queues import QUEUES, enqueue, task_for_kind

bp = Blueprint("ops", __name__)
NOTICE_TTL = 600
FAILED_PAGE = 100
NOTICE_LINES = 50
SOURCES = ("klaviyo", "zendesk")


@dataclass
class OpsDeps:
    settings: Settings
    store: Store
    celery: Celery
    workers: Cached[list[str]]
    checks: Cached[list[Check]]


def install(app: Flask, settings: Settings, store: Store, celery: Celery) -> None:
    """Register the page with its per-process caches. Clients are built here, not per view;
    they make no call until the first setup check."""
    zendesk = bootstrap.zendesk_client(settings, store)
    klaviyo = bootstrap.klaviyo_client(settings, store)
    others = [(b.name, mine, bootstrap.klaviyo_client(mine, store))     # E7: each brand's account
              for b in app.extensions.get("zkb.brands", ())[1:]
              for mine in (bootstrap.for_brand(settings, b),)]
    workers = Cached(lambda: ping_workers(celery))
    checks = Cached(lambda: run_checks(settings, store, zendesk, klaviyo, workers.get,
                                       other_brands=others))
    app.extensions["zkb.ops"] = OpsDeps(settings, store, celery, workers, checks)
    app.register_blueprint(bp)


SECURITY_HEADERS = {
    # No framing (clickjacking of the Replay and Purge buttons), no guessing of content types,
    # nothing kept in caches (the page shows failed jobs' messages), no referrer to Zendesk.
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


@bp.after_request
def _harden(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _deps() -> OpsDeps:
    return current_app.extensions["zkb.ops"]


@bp.get("/ops")
@ops_only
def page() -> Response | str:
    deps = _deps()
    source = request.args.get("source") if request.args.get("source") in SOURCES else None
    brand = _brand(request.args.get("brand"))
    try:
        failed = list_failed(deps.store, source=source, brand=brand)
        counters = brand_counters(deps.store, brand)
        view = {"queues": queue_depths(deps.store, QUEUES), "outcomes": outcomes(counters),
                "queue_ages": deps.store.outcomes.queue_ages(QUEUES, time.time()),
                "bulk": deps.store.bulk.summary(time.time()),
                "ticket_metrics": ticket_metrics(counters),
                "repaired": repaired(counters),
                "recent": recent_conversations(deps.store),
                "held": held_replies(deps.store),
                "notice": _notice(deps.store, request.args.get("notice", ""))}
    except redis.RedisError as e:
        return Response(f"Redis does not answer ({type(e).__name__}); the page needs it.\n",
                        status=503, mimetype="text/plain", headers={"Retry-After": "5"})
    number = max(1, request.args.get("page", 1, type=int) or 1)   # failed jobs, a page at a time
    return render_template(
        "ops.html", failed=failed[(number - 1) * FAILED_PAGE:number * FAILED_PAGE],
        failed_total=len(failed), page_no=number,
        pages=max(1, -(-len(failed) // FAILED_PAGE)), source=source, sources=SOURCES, when=when,
        brand=brand, brands=_brand_names() if len(_brand_names()) > 1 else [],
        checks=_safely(deps.checks), workers=_safely(deps.workers), checked_ago=deps.checks.age,
        csrf=csrf_token(deps.settings.ops_token or "", time.time()),
        zendesk_url=redact_url(deps.settings.zendesk_url), **view)


def _safely(cached: Cached) -> dict:
    try:
        return {"value": cached.get(), "error": None}
    except Exception as e:  # noqa: BLE001 - the page shows what broke instead of a 500
        return {"value": None, "error": type(e).__name__}


@bp.post("/ops/replay")
@ops_only
def replay_jobs() -> Response:
    deps = _deps()
    refused = _refuse_forgery(deps.settings)
    if refused:
        return refused
    send = lambda task, ref: enqueue(deps.celery, task, ref)  # noqa: E731
    ref = request.form.get("ref", "")
    if ref:
        lines = [replay(deps.store, ref, send, task_for_kind)]
    else:
        source = request.form.get("source") if request.form.get("source") in SOURCES else None
        lines = replay_many(deps.store, send, task_for_kind, source=source,
                            brand=_brand(request.form.get("brand"))) or [
            "no failed jobs to replay"]
    return _back(deps.store, lines)


@bp.post("/ops/purge")
@ops_only
def purge_jobs() -> Response:
    deps = _deps()
    refused = _refuse_forgery(deps.settings)
    if refused:
        return refused
    ref = request.form.get("ref", "")
    brand = None if ref else _brand(request.form.get("brand"))
    removed = purge(deps.store, [ref] if ref else None, brand=brand,
                    brands=tuple(_brand_names()))
    what = ref if ref else "all failed jobs" + (f" of brand {brand}" if brand else "")
    return _back(deps.store, [f"purged {what}: {removed} removed from failed jobs (their "
                              f"events were not replayed)"])


def _brand_names() -> list[str]:
    """The configured brands, the default first (webapp/app.py)."""
    return [b.name for b in current_app.extensions.get("zkb.brands", ())]


def _brand(asked: str | None) -> str | None:
    """The brand a request names, if configured and there is more than one (None: all)."""
    names = _brand_names()
    return asked if len(names) > 1 and asked in names else None


def _refuse_forgery(settings: Settings) -> Response | None:
    if csrf_ok(settings.ops_token or "", request.form.get("csrf"), time.time()):
        return None
    return Response("This form is stale or did not come from the ops page: reload /ops and "
                    "try again.\n", status=403, mimetype="text/plain")


def _back(store: Store, lines: list[str]) -> Response:
    """Redirect to the page, which shows `lines` once (post/redirect/get)."""
    notice = secrets.token_urlsafe(9)
    store.outcomes.put_notice(notice, lines[:NOTICE_LINES])
    return redirect(url_for("ops.page", notice=notice), code=303)


def _notice(store: Store, notice: str) -> list[str]:
    if not notice.replace("-", "").replace("_", "").isalnum():
        return []
    return store.outcomes.notice(notice) or []
