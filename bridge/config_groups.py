"""Groups of settings read from the environment that need no other setting's default (see
bridge/config.py, which collects every group and reports all problems together)."""

from __future__ import annotations

import re

from bridge.env_reader import EnvReader

MIN_OPS_TOKEN = 16
MAX_PHRASE = 100        # characters in one SMS_OPT_OUT_PHRASES entry
MAX_METRIC_NAME = 128   # WHATSAPP_TEMPLATE_FLOW_METRIC [assumed: Klaviyo's metric name limit]


def redis_ha(p: EnvReader, default_wait_ms: int) -> dict[str, object]:
    """Redis under Sentinel (docs/scaling.md): where the sentinels are, the primary's name, and
    how many replicas must hold an event before the receiver acknowledges it."""
    sentinels = tuple(s.strip() for s in (p.text("REDIS_SENTINELS") or "").split(",")
                      if s.strip())
    for s in sentinels:
        host, _, port = s.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            p.problem(f"REDIS_SENTINELS entry {s!r} must be host:port (e.g. sentinel1:26379)")
    master = p.text("REDIS_MASTER_NAME")
    if bool(sentinels) != bool(master):
        p.problem("set both REDIS_SENTINELS (host:port,...) and REDIS_MASTER_NAME (the name the "
                  "sentinels monitor), or neither")
    replicas = p.integer("REDIS_WAIT_REPLICAS", minimum=0)
    wait_ms = p.integer("REDIS_WAIT_MS", minimum=1)
    return {"redis_sentinels": sentinels, "redis_master_name": master,
            "redis_sentinel_password": p.secret("REDIS_SENTINEL_PASSWORD"),
            "redis_wait_replicas": (1 if sentinels else 0) if replicas is None else
            max(replicas, 0),
            "redis_wait_ms": wait_ms if wait_ms and wait_ms > 0 else default_wait_ms}


def sms_threading(p: EnvReader) -> dict[str, object]:
    """S10 phrases, split at commas and newlines (bridge/domain/opt_out.py matches them; unset:
    None, the defaults; `none`: (), S10 off) and S11's window in hours (unset: always reopen)."""
    raw = p.text("SMS_OPT_OUT_PHRASES")
    phrases = None if raw is None else () if raw.lower() == "none" else tuple(
        e.strip() for e in re.split(r"[,\n]", raw) if e.strip())
    for e in phrases or ():
        if not any(ch.isalnum() for ch in e) or len(e) > MAX_PHRASE:
            p.problem(f"SMS_OPT_OUT_PHRASES entry {e[:30]!r} must hold letters or digits and "
                      f"be at most {MAX_PHRASE} characters")
    if phrases == () and raw is not None and raw.lower() != "none":
        p.problem("SMS_OPT_OUT_PHRASES holds no phrase: unset it for the defaults, or set it "
                  "to none to switch rule S10 off")
    hours = p.positive_number("SOLVED_REOPEN_HOURS",
                              "; e.g. 72, or unset it to always reopen solved tickets")
    return {"sms_opt_out_phrases": phrases, "solved_reopen_hours": hours}


def whatsapp(p: EnvReader) -> dict[str, object]:
    """S9: the metric whose Klaviyo flow sends an approved WhatsApp template when an agent asks
    for it outside the 24-hour window (unset: no template; held replies wait for the
    customer). Reserved `$` names and over-long names are refused as Klaviyo would."""
    name = p.text("WHATSAPP_TEMPLATE_FLOW_METRIC")
    if name is not None and (name.startswith("$") or len(name) > MAX_METRIC_NAME):
        p.problem(f"WHATSAPP_TEMPLATE_FLOW_METRIC={name[:40]!r} must not start with $ and must "
                  f"be at most {MAX_METRIC_NAME} characters (the metric your template flow is "
                  "triggered by, e.g. 'Zendesk WhatsApp Template Reply')")
    return {"whatsapp_template_flow_metric": name}


def ops(p: EnvReader) -> dict[str, object]:
    ops_token = p.secret("OPS_TOKEN")
    if ops_token and len(ops_token) < MIN_OPS_TOKEN:
        p.problem(f"OPS_TOKEN must be at least {MIN_OPS_TOKEN} characters (it guards replay "
                  "and purge); make one with: python -c 'import secrets; "
                  "print(secrets.token_urlsafe(24))'")
    metrics_auth = p.boolean("METRICS_REQUIRE_AUTH", False)
    if metrics_auth and not ops_token:
        p.problem("METRICS_REQUIRE_AUTH=true needs OPS_TOKEN (the scraper's bearer token)")
    return {"ops_token": ops_token, "metrics_require_auth": metrics_auth}
