"""Every Redis key the bridge writes, with its lifetime, in one table (STYLE: "every key and TTL
written once"). All keys start with `zkb:`; names and formats are part of the stored data of
running deployments, so they never change without a migration and a test.

Functions build the keys; `TABLE` documents them (the README's glossary points here).
"""

from __future__ import annotations

import hashlib

from bridge.adapters.key_scope import BRAND_SCOPED, DEFAULT_BRAND, brand_key, scoped

DAY = 24 * 3600
CONVERSATION_TTL = 90 * DAY
OWN_COMMENT_TTL = 90 * DAY
PROFILE_TTL = 60
CONTEXT_TTL = 3600             # A9: one Klaviyo read per customer an hour at most
INTENT_TTL = 7 * DAY
REPLY_TTL = 30 * DAY
ECHO_TTL = 6 * 3600
AGENT_TTL = 600
MADE_TTL = DAY                  # a ticket the bridge made, until its ticket.created is handled
GROUP_TTL = 3600
METRIC_TTL = 400 * DAY          # longer than any ticket stays open
SUPPORT_TTL = METRIC_TTL        # M5: renewed on each change; a closed ticket's mark as long
NOTICE_TTL = 600
CLAIM_TTL = 60
RECENT_KEEP = 200
BULK_TTL = INTENT_TTL           # a staged text and its batch: as long as the text's intent
BULK_LOCK_TTL = 30

# key pattern -> (type, lifetime, what it holds)
TABLE: dict[str, tuple[str, str, str]] = {
    "zkb:ev:<source>:<id>": ("hash", "EVENT_TTL_SECONDS", "raw event + state (received/queued/"
                             "done/dropped/failed), attempts, prepared, queue, seq, hold (why "
                             "an agent reply is held: quiet_hours / opt_out_request, A8/S10)"),
    "zkb:seq": ("string", "none", "receipt sequence number (orders a queue's ties)"),
    "zkb:unqueued": ("zset", "none", "events stored whose enqueue is not yet confirmed (E1)"),
    "zkb:convq:<queue>": ("zset", "none", "events waiting their turn in an ordered queue (S7, A6)"),
    "zkb:lock:<queue>": ("string", "45 s", "one worker drains an ordered queue at a time"),
    "zkb:conv:<phone>:<brand>": ("hash", "90 days", "conversation cache (recoverable); <brand> is "
                                 "wa:<number> for a WhatsApp conversation, whose hash also "
                                 "keeps customer_at, the customer's last message (S9)"),
    "zkb:ticketconv:<ticket>": ("string", "90 days", "ticket -> conversation"),
    "zkb:opensms:<phone>": ("hash", "90 days, renewed", "brand number -> '<ticket>:<status>' "
                            "of the phone's not-closed SMS tickets (E6, recoverable)"),
    "zkb:opensms:ready": ("string", "none (1 h when no view)", "the open-SMS index is "
                          "complete; absent: the sweep rebuilds it from the view"),
    "zkb:recent": ("zset", f"last {RECENT_KEEP}", "recently updated conversations (/ops)"),
    "zkb:context:<profile id>": ("string", "1 hour", "the last campaign/flow SMS a customer "
                                 "received, for a new ticket's context (A9)"),
    "zkb:profile:<id>": ("string", "60 s", "Klaviyo profile cache"),
    "zkb:agent:<user>": ("string", "10 min", "agent email cache (A3)"),
    "zkb:made:<ticket>": ("string", "1 day", "a ticket the bridge created, as Zendesk answered, "
                          "and its new requester's identity: Opened Ticket without a read (M1)"),
    "zkb:made:user:<id>": ("string", "1 day", "a requester whose identity (M3) the bridge just "
                           "wrote: email, else phone"),
    "zkb:group:<id>": ("string", "1 h", "group name cache (Opened Ticket's Group_name)"),
    "zkb:intent:<ref>": ("string", "7 days", "what a job was about to write upstream (E1)"),
    "zkb:own:comment:<id>": ("string", "90 days", "comments the bridge wrote (A2)"),
    "zkb:posted:<requester>:<hash>": ("string", "90 days", "texts posted in a customer's name"),
    "zkb:reply:<comment>": ("string", "30 days", "sending/sent state of an agent reply (A6)"),
    "zkb:sent:<phone>:<hash>": ("string", "6 h", "texts the bridge sent (Klaviyo echo, A7)"),
    "zkb:echo:<phone>:<hash>": ("string", "6 h", "when Klaviyo echoed a conversation message "
                                "(received_sms without campaign/flow): A6 evidence it went out"),
    "zkb:claim:<what>": ("string", "60 s", "a job about to call upstream (concurrent duplicates"
                         " wait; released on failure)"),
    "zkb:note:<key>": ("string", "30 days", "internal notes already left"),
    "zkb:metric:<ticket>:<metric>": ("string", "400 days", "metric recorded (M1)"),
    "zkb:support:open:<requester>": ("set", "400 days, renewed", "ids of the requester's "
                                     "not-closed tickets the bridge knows of (M5)"),
    "zkb:support:ticket:<ticket>": ("string", "400 days", "the requester a ticket is counted "
                                    "under, or `closed` (final: a late Opened never re-adds it)"),
    "zkb:support:hold:<requester>": ("string", "60 s", "one process reads and sends a "
                                     "requester's count at a time (released after the call)"),
    "zkb:metrics:bulk": ("list", "none", "metric events parked for the bulk endpoint"),
    "zkb:metrics:bulk:inflight:<at>:<token>": ("list", "until sent", "a bulk batch in flight"),
    "zkb:metrics:failed": ("hash", "until replayed and sent, or purged", "metric events "
                           "Klaviyo refused, by ref `metric:<unique_id>` (failed jobs)"),
    "zkb:reconcile:*, zkb:backfill:*": ("string", "none", "export cursors (M4, backfill)"),
    "zkb:quota:<budget>:<window>": ("zset", "window + 1 s", "shared request budgets (E3)"),
    "zkb:quota:seq": ("string", "none", "grant ids"),
    "zkb:quota:<budget>:<window>:asking:<lane>": ("zset", "until the last ask + 1 s", "brands "
                                                  "asking for a shared budget (E7, fair_quota)"),
    "zkb:due": ("zset", "none", "event refs waiting longer than a safe countdown, by due time; "
                "beat's bridge.release_due publishes them (quota reservations, agent replies "
                "held by quiet hours or an opt-out request: A8, S10)"),
    "zkb:bulk:item:<ref>": ("string", "7 days", "a text's bulk write (E6): kind, payload, "
                            "staged/sent/answered state (adapters/bulk_staging.py)"),
    "zkb:bulk:staged:<kind>": ("zset", "none", "texts waiting to be packed into a bulk job"),
    "zkb:bulk:batch:<id>": ("string", "7 days", "a bulk job's items, then its job id"),
    "zkb:bulk:batches": ("zset", "none", "bulk jobs in flight, by submit time"),
    "zkb:bulk:lock": ("string", "30 s", "one bulk drainer at a time"),
    "zkb:counters": ("hash", "none", "outcome counters `<kind>:<outcome>:<reason>`"),
    "zkb:m:upstream, zkb:m:retries, zkb:m:latency": ("hash", "none", "meters for /metrics"),
    "zkb:failed": ("hash", "pruned with their events", "failed jobs by event ref (E2)"),
    "zkb:failed:prune": ("string", "none", "HSCAN cursor of the sweep's pruning of zkb:failed"),
    "zkb:ops:notice:<id>": ("string", "10 min", "what an /ops action did, for its redirect"),
    "zkb:oauth:zendesk:<client>": ("string", "token lifetime + 1 min",
                                   "the shared Zendesk OAuth token of one client (id + secret)"),
    "zkb:oauth:zendesk:<client>:lock": ("string", "30 s", "one process renews it at a time"),
    "zkb:beat:lease": ("string", "30 s, renewed", "which celery beat publishes (one at a time)"),
}

SEQ = "zkb:seq"
UNQUEUED = "zkb:unqueued"
RECENT = "zkb:recent"
COUNTERS = "zkb:counters"
FAILED = "zkb:failed"
FAILED_PRUNE_CURSOR = "zkb:failed:prune"
UPSTREAM = "zkb:m:upstream"
RETRIES = "zkb:m:retries"
LATENCY = "zkb:m:latency"
METRICS_PENDING = "zkb:metrics:bulk"
METRICS_INFLIGHT = "zkb:metrics:bulk:inflight:"
METRICS_FAILED = "zkb:metrics:failed"
SUPPORT_OPEN = "zkb:support:open:"
OPEN_SMS_READY = "zkb:opensms:ready"
DUE = "zkb:due"
BULK_BATCHES = "zkb:bulk:batches"
BULK_LOCK = "zkb:bulk:lock"
BEAT_LEASE = "zkb:beat:lease"
BEAT_LEASE_TTL = 30
UNACKED = "unacked"          # kombu's hash of messages delivered to a worker, not yet acked


def event(ref: str) -> str:
    return f"zkb:ev:{ref}"


def ordered_queue(queue: str) -> str:
    return f"zkb:convq:{queue}"


def queue_lock(queue: str) -> str:
    return f"zkb:lock:{queue}"


def conversation(phone: str, brand: str) -> str:
    return f"zkb:conv:{phone}:{brand}"


def open_sms(phone: str) -> str:
    return f"zkb:opensms:{phone}"


def ticket_conversation(ticket_id: int) -> str:
    return f"zkb:ticketconv:{ticket_id}"


def profile(profile_id: str) -> str:
    return scoped(f"zkb:profile:{profile_id}")


def context(profile_id: str) -> str:
    return scoped(f"zkb:context:{profile_id}")


def agent(user_id: int) -> str:
    return f"zkb:agent:{user_id}"


def made_ticket(ticket_id: int) -> str:
    return f"zkb:made:{ticket_id}"


def made_requester(user_id: int) -> str:
    return f"zkb:made:user:{user_id}"


def group(group_id: int) -> str:
    return f"zkb:group:{group_id}"


def bulk_item(ref: str) -> str:
    return f"zkb:bulk:item:{ref}"


def bulk_staged(kind: str) -> str:
    return f"zkb:bulk:staged:{kind}"


def bulk_batch(batch_id: str) -> str:
    return f"zkb:bulk:batch:{batch_id}"


# E6: ticket reads shared under a backlog (adapters/ticket_reads.py)
READS_WANTED = "zkb:reads:wanted"
READ_TTL = 300


def read_ticket(ticket_id: int) -> str:
    return f"zkb:reads:ticket:{ticket_id}"


def intent(ref: str) -> str:
    return f"zkb:intent:{ref}"


def own_comment(comment_id: int) -> str:
    return f"zkb:own:comment:{comment_id}"


def posted(requester_id: int, text: str) -> str:
    return f"zkb:posted:{requester_id}:{digest(squash(text))}"


def reply(comment_id: int) -> str:
    return f"zkb:reply:{comment_id}"


def sent_text(phone: str, text: str) -> str:
    return scoped(f"zkb:sent:{phone}:{digest(text)}")


def echo(phone: str, text: str) -> str:
    return scoped(f"zkb:echo:{phone}:{digest(text)}")


def claim(what: str) -> str:
    return f"zkb:claim:{what}"


def note(key: str) -> str:
    return f"zkb:note:{key}"


def metric(ticket_id: int, name: str) -> str:
    return f"zkb:metric:{ticket_id}:{name}"


def support_open(requester_id: int) -> str:
    return scoped(f"{SUPPORT_OPEN}{requester_id}")


def support_ticket(ticket_id: int) -> str:
    return scoped(f"zkb:support:ticket:{ticket_id}")


def support_hold(requester_id: int) -> str:
    return scoped(f"zkb:support:hold:{requester_id}")


def value(name: str) -> str:
    """Cursors and anchors (`reconcile:cursor`, `backfill:<since>:<until>`)."""
    return f"zkb:{name}"


def quota(budget: str, seconds: float) -> str:
    """A Klaviyo budget's windows are the brand's (Klaviyo limits are per account, E7); the
    Zendesk budgets are shared by every brand."""
    return scoped(f"zkb:quota:{budget}:{seconds:g}")


def quota_asking(budget: str, seconds: float, lane: str) -> str:
    return f"{quota(budget, seconds)}:asking:{lane}"


def oauth_token(client: str) -> str:
    """`client` is a fingerprint of the OAuth client's id and secret (never the secret)."""
    return f"zkb:oauth:zendesk:{client}"


def oauth_lock(client: str) -> str:
    return f"zkb:oauth:zendesk:{client}:lock"


def ops_notice(notice: str) -> str:
    return f"zkb:ops:notice:{notice}"


def squash(text: str) -> str:
    return " ".join(text.split())


def digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:32]


# --- brand-scoped keys (E7, #16): adapters/key_scope.py ---------------------------------------
def metrics_pending() -> str:
    return scoped(METRICS_PENDING)


def metrics_inflight() -> str:       # the prefix of a batch in flight: `<prefix><at>:<token>`
    return scoped(METRICS_INFLIGHT)


def metrics_failed() -> str:
    return scoped(METRICS_FAILED)


def support_open_prefix() -> str:
    return scoped(SUPPORT_OPEN)


__all__ = ["BRAND_SCOPED", "DEFAULT_BRAND", "brand_key", "scoped"]   # re-exported, with the rest
