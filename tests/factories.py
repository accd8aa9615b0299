"""Builders for the vendor payloads the handlers read, shaped as the vendors send them, and
`receive`, which stores an event the way the receiver does so a handler can run it.

- Klaviyo system-webhook items (`sent_sms`: the customer texted the brand; `received_sms`: an
  SMS from the brand reached the customer), as in a delivery's `data` list. Key names as read by
  bridge/payloads/klaviyo_events.py.
- Zendesk event-subscription payloads (`ticket.comment_added`, `ticket.created`,
  `ticket.status_changed`, `ticket.tags_changed`): ids as strings, enums upper-case, as
  bridge/payloads/zendesk_events.py reads them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.domain.model import Profile, RawEvent, conversation_external_id
from bridge.payloads.klaviyo_events import RECEIVED_SMS, SENT_SMS
from bridge.payloads.routes import queue_of
from bridge.payloads.whatsapp import SENT_WHATSAPP
from bridge.ports import StorePort

ALICE, BOB = "+15005550101", "+15005550102"                # customers
TOLL_FREE, LONG_CODE, SHORT_CODE = "+18005550100", "+12025550123", "55501"   # brand numbers
SENT_AT = datetime(2026, 11, 25, 10, 12, 7, tzinfo=UTC)
_ids = itertools.count(1)


def profile(phone: str = ALICE, *, consented: bool = True, email: str | None = None,
            first_name: str | None = "Alice", last_name: str | None = "Archer",
            profile_id: str | None = None, whatsapp: str | None = None) -> Profile:
    return Profile(id=profile_id or f"01P{phone[-4:]}", email=email, phone=phone,
                   first_name=first_name, last_name=last_name, can_receive_sms=consented,
                   whatsapp_consent=whatsapp)


# --- Klaviyo ------------------------------------------------------------------------------------
def _klaviyo_item(topic: str, props: dict[str, Any], sent_at: datetime, profile_id: str | None,
                  event_id: str | None) -> dict[str, Any]:
    event_id = event_id or f"ev{next(_ids)}"
    payload: dict[str, Any] = {
        "type": "event", "id": event_id,
        "attributes": {"timestamp": int(sent_at.timestamp()), "datetime": sent_at.isoformat(),
                       "event_properties": props}}
    if profile_id:
        payload["relationships"] = {"profile": {"data": {"type": "profile", "id": profile_id}}}
    return {"external_id": event_id, "topic": topic, "payload": payload}


def sent_sms(body: str = "Where is my order?", *, customer: str = ALICE, brand: str = TOLL_FREE,
             profile_id: str | None = None, sent_at: datetime = SENT_AT,
             media: tuple[str, ...] = (), event_id: str | None = None) -> dict[str, Any]:
    """A customer's text to a brand number: `From Number` is the customer."""
    props: dict[str, Any] = {"Message Body": body, "To Number": brand, "From Number": customer}
    if media:
        props["Media URLs"] = list(media)
    return _klaviyo_item(SENT_SMS, props, sent_at, profile_id or profile(customer).id, event_id)


def sent_whatsapp(body: str = "Where is my order?", *, customer: str = ALICE,
                  brand: str = TOLL_FREE, sent_at: datetime = SENT_AT,
                  event_id: str | None = None) -> dict[str, Any]:
    """A customer's WhatsApp message to the brand's WhatsApp number (S9), as the topic and
    properties bridge/payloads/whatsapp.py pins [assumed]."""
    props: dict[str, Any] = {"Message Body": body, "To Number": brand, "From Number": customer,
                             "Channel": "whatsapp"}
    return _klaviyo_item(SENT_WHATSAPP, props, sent_at, profile(customer).id, event_id)


def received_sms(body: str = "Black Friday: 30% off everything", *, customer: str = ALICE,
                 brand: str = TOLL_FREE, campaign: str | None = None, flow: str | None = None,
                 sent_at: datetime = SENT_AT, event_id: str | None = None) -> dict[str, Any]:
    """An SMS from a brand number reached the customer: `To Number` is the customer. A
    campaign or flow send names it; a conversation reply names neither."""
    props: dict[str, Any] = {"Message Body": body, "To Number": customer, "From Number": brand}
    if campaign:
        props["Campaign Name"] = campaign
    if flow:
        props["Flow Name"] = flow
    return _klaviyo_item(RECEIVED_SMS, props, sent_at, profile(customer).id, event_id)


def later(seconds: float) -> datetime:
    return SENT_AT + timedelta(seconds=seconds)


# --- Zendesk ------------------------------------------------------------------------------------
def _zendesk_event(kind: str, ticket: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """`ticket` holds Zendesk-style ticket fields (as FakeZendesk keeps them)."""
    detail = {"id": str(ticket["id"]), "status": str(ticket.get("status") or "new").upper(),
              "requester_id": _sid(ticket.get("requester_id")),
              "assignee_id": _sid(ticket.get("assignee_id")),
              "group_id": _sid(ticket.get("group_id")), "subject": ticket.get("subject"),
              "tags": list(ticket.get("tags") or []), "external_id": ticket.get("external_id"),
              "via": {"channel": "api"}}
    return {"id": f"zev{next(_ids)}", "type": f"zen:event-type:{kind}",
            "subject": f"zen:ticket:{ticket['id']}", "time": SENT_AT.isoformat(),
            "detail": detail, "event": event}


def _sid(value: Any) -> str | None:
    return None if value is None else str(value)


def sms_ticket(ticket_id: int, *, customer: str = ALICE, brand: str = TOLL_FREE,
               **fields: Any) -> dict[str, Any]:
    """Ticket fields of an SMS conversation's ticket (its external_id ties it to the texts)."""
    return {"id": ticket_id, "external_id": conversation_external_id(customer, brand), **fields}


def comment_added(ticket: dict[str, Any], comment_id: int, body: str, *, author_id: int,
                  public: bool = True, staff: bool = True,
                  attachments: tuple[str, ...] = ()) -> dict[str, Any]:
    return _zendesk_event("ticket.comment_added", ticket, {"comment": {
        "id": str(comment_id), "body": body, "html_body": f"<p>{body}</p>", "is_public": public,
        "attachments": [{"file_name": name, "content_url": f"https://z/{name}"}
                        for name in attachments],
        "author": {"id": str(author_id), "is_staff": staff, "name": "Agent Smith"}}})


def ticket_created(ticket: dict[str, Any]) -> dict[str, Any]:
    return _zendesk_event("ticket.created", ticket, {})


def status_changed(ticket: dict[str, Any], previous: str, current: str) -> dict[str, Any]:
    return _zendesk_event("ticket.status_changed", {**ticket, "status": current},
                          {"previous": previous.upper(), "current": current.upper()})


def tags_changed(ticket: dict[str, Any], added: tuple[str, ...] = (),
                 removed: tuple[str, ...] = ()) -> dict[str, Any]:
    """`ticket["tags"]` are the tags after the change (`detail.tags` [doc]); the event object's
    shape is [assumed] (undocumented), and the bridge does not read it."""
    return _zendesk_event("ticket.tags_changed", ticket,
                          {"tags_added": list(added), "tags_removed": list(removed)})


# --- the receiver -------------------------------------------------------------------------------
def raw_event(data: dict[str, Any]) -> RawEvent:
    """A Klaviyo item or a Zendesk payload as the receiver splits it (envelopes.py)."""
    if "payload" in data:
        return RawEvent("klaviyo", data["payload"]["id"], data["topic"], data)
    return RawEvent("zendesk", data["id"], data["type"], data)


def receive(store: StorePort, data: dict[str, Any], now: float) -> str:
    """Keep the event, place it in its ordered queue and confirm its enqueue, as the receiver
    does; returns the ref its task carries."""
    event = raw_event(data)
    store.events.save_events([event], now, route=queue_of)
    store.events.mark_queued([event.ref])
    return event.ref


def brand_table(name: str, key: str, secret: str, numbers: tuple[str, ...],
                zendesk_brand_id: int = 8002) -> str:
    """One `[[brand]]` table of a brands file (E7, bridge/brands_file.py)."""
    listed = ", ".join(f'"{n}"' for n in numbers)
    return (f'\n[[brand]]\nname = "{name}"\nklaviyo_api_key = "{key}"\n'
            f'klaviyo_webhook_secret = "{secret}"\nnumbers = [{listed}]\n'
            f"zendesk_brand_id = {zendesk_brand_id}\n")
