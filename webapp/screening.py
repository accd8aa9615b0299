"""Which of a delivery's events need no work, decided at the receiver from the payload alone
(E6): no task is queued for them and no body is kept, only id + outcome for de-duplication,
counted with a reason.

- a topic no task handles (`topic_not_used`);
- a `received_sms` for a phone without a not-closed SMS ticket (A7: nothing to note);
- a Zendesk `ticket.comment_added` that no rule could send: an internal note, or a comment whose
  author is not staff (A1/A2). Every customer text the bridge writes to a ticket comes back as
  one of these; on campaign day they were a third of the worker's time, each also waiting its
  turn in its ticket's reply queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge.adapters.meters import counter_field
from bridge.adapters.store import Store
from bridge.domain.model import RawEvent
from bridge.domain.reply_rules import prescreen
from bridge.payloads.klaviyo_events import RECEIVED_SMS, receipt_phone
from bridge.payloads.zendesk_events import COMMENT_ADDED, agent_comment, event_type
from workers.queues import task_for

RECEIVED_SMS_KIND = "received_sms"     # E6: a receipt without a ticket is never queued
AGENT_REPLY_KIND = "agent_reply"       # the worker's counter kind for comments (agent_reply.py)

Owned = Callable[[str], bool] | None


def needing_work(store: Store, events: list[RawEvent],
                 owned: Callable[[], Owned]) -> tuple[list[RawEvent], int]:
    """The events that need work, and how many of the others were known already (repeats).
    `owned` gives the brand's number test (E7), asked only when the delivery holds receipts."""
    drops: dict[str, tuple[str, str]] = {}      # ref -> (counter field, reason kept)
    used = []
    for e in events:
        if task_for(e) is None:
            drops[e.ref] = (counter_field(e.source, "dropped", f"topic:{e.kind}")[:100],
                            "topic_not_used")
        else:
            used.append(e)
    for ref in _idle_receipts(store, used, owned):
        drops[ref] = (counter_field(RECEIVED_SMS_KIND, "dropped", "receipt_without_ticket"),
                      "no_open_ticket")
    for ref, reason in _comments_never_sent(used).items():
        drops[ref] = (counter_field(AGENT_REPLY_KIND, "dropped", reason), reason)
    now, kept = time.time(), 0
    for counter, reason in sorted(set(drops.values())):
        kept += store.events.save_dropped([e for e in events if drops.get(e.ref) ==
                                           (counter, reason)], now, counter, reason)
    dropped = [e for e in events if e.ref in drops]     # a ref repeated in the delivery: twice
    return [e for e in used if e.ref not in drops], len(dropped) - kept


def _idle_receipts(store: Store, events: list[RawEvent], owned: Callable[[], Owned]) -> set[str]:
    """Receipts for phones without a not-closed SMS ticket: one Redis read per delivery."""
    receipts = [(e, receipt_phone(e.data)) for e in events if e.kind == RECEIVED_SMS]
    receipts = [(e, phone) for e, phone in receipts if phone]   # unreadable: the worker says why
    if not receipts:
        return set()
    known = store.open_sms.with_open_ticket([phone for _, phone in receipts], owned())
    return {e.ref for (e, _), has in zip(receipts, known, strict=True) if not has}


def _comments_never_sent(events: list[RawEvent]) -> dict[str, str]:
    """ref -> reason, for Zendesk comments no reply rule could send (A1/A2). A comment the
    payload cannot describe is left to the worker, which says why it drops it."""
    found: dict[str, str] = {}
    for e in events:
        if e.source != "zendesk" or event_type(e.data) != COMMENT_ADDED:
            continue
        comment = agent_comment(e.data, with_text=False)
        drop = prescreen(comment) if comment is not None else None
        if drop is not None:
            found[e.ref] = drop.reason
    return found
