"""Klaviyo API client: profiles with SMS consent, conversations and replies, events, account.

Every call carries `Authorization: Klaviyo-API-Key ...` and the pinned `revision` header.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import requests

from bridge.adapters.http import Funnel, Gate, Observer
from bridge.domain.coerce import as_moment
from bridge.domain.context import LastSms
from bridge.domain.metric_rules import MetricEvent
from bridge.domain.model import Profile
from bridge.domain.phones import normalize
from bridge.domain.whatsapp import whatsapp_consent
from bridge.errors import Permanent


class KlaviyoClient:
    def __init__(self, base_url: str, *, api_key: str, revision: str, timeout: float = 10.0,
                 session: requests.Session | None = None, observe: Observer | None = None,
                 gate: Gate | None = None) -> None:
        self.session = session or requests.Session()
        self.session.headers.update({
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": revision,
            "Accept": "application/vnd.api+json",
        })
        self.http = Funnel("klaviyo", base_url.rstrip("/"), self.session, timeout, observe, gate)
        self._metric_ids: dict[str, str] = {}

    def account(self) -> dict[str, Any]:
        data = self.http.request("GET", "/api/accounts", "GET accounts").json()["data"]
        return data[0] if data else {}

    def get_profile(self, profile_id: str) -> Profile | None:
        try:
            resp = self.http.request("GET", f"/api/profiles/{profile_id}", "GET profiles/{id}",
                                     params={"additional-fields[profile]": "subscriptions"})
        except Permanent as e:
            if e.status == 404:
                return None
            raise
        return profile_from_resource(resp.json()["data"])

    def find_profile_by_phone(self, phone: str) -> Profile | None:
        resp = self.http.request("GET", "/api/profiles", "GET profiles?filter",
                                 params={"filter": f'equals(phone_number,"{phone}")',
                                         "additional-fields[profile]": "subscriptions"})
        data = resp.json().get("data") or []
        return profile_from_resource(data[0]) if data else None

    def sms_conversation(self, profile_id: str) -> str | None:
        """The id of the profile's SMS conversation (replies go out on its number)."""
        return self.channel_conversation(profile_id, "sms")

    def channel_conversation(self, profile_id: str, channel: str) -> str | None:
        """The id of the profile's conversation on `channel` ("sms" or "whatsapp", S9)."""
        resp = self.http.request("GET", f"/api/profiles/{profile_id}/conversations",
                                 "GET profiles/{id}/conversations")
        for conv in resp.json().get("data") or []:
            if ((conv.get("attributes") or {}).get("channel") or "").lower() == channel:
                return str(conv["id"])
        return None

    def send_conversation_message(self, conversation_id: str, body: str) -> None:
        """POST /api/conversation-messages (202). Not idempotent: callers guard (A6). A
        refusal is `Permanent` with Klaviyo's error body (a WhatsApp send outside the 24-hour
        window is told apart by payloads/whatsapp.py)."""
        self.http.request("POST", "/api/conversation-messages", "POST conversation-messages",
                          json={"data": {"type": "conversation-message",
                                         "attributes": {"body": body},
                                         "relationships": {"conversation": {"data": {
                                             "type": "conversation", "id": conversation_id}}}}},
                          headers={"Content-Type": "application/vnd.api+json"})

    def received_sms_since(self, profile_id: str, since: float,
                           metric_name: str = "Received SMS") -> list[str]:
        """Bodies of the `Received SMS` events (SMS that reached the customer; for WhatsApp
        the caller names its metric) on the profile since `since` (epoch seconds): A6's
        evidence that a reply went out."""
        metric = self.metric_id(metric_name)
        if metric is None:
            return []
        moment = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
        resp = self.http.request("GET", "/api/events", "GET events", params={
            "filter": f'and(equals(profile_id,"{profile_id}"),equals(metric_id,"{metric}"),'
                      f"greater-or-equal(datetime,{moment}))",
            "sort": "-datetime", "page[size]": "100"})
        return [str(((e.get("attributes") or {}).get("event_properties") or {})
                    .get("Message Body") or "") for e in resp.json().get("data") or []]

    def last_marketing_sms(self, profile_id: str) -> LastSms | None:
        """A9: the newest campaign or flow SMS the customer received (one events read)."""
        metric = self.metric_id("Received SMS")
        if metric is None:
            return None
        resp = self.http.request("GET", "/api/events", "GET events", params={
            "filter": f'and(equals(profile_id,"{profile_id}"),equals(metric_id,"{metric}"))',
            "sort": "-datetime", "page[size]": "20"})
        return last_marketing_sms(resp.json().get("data") or [])

    def metric_id(self, name: str) -> str | None:
        """The id of the metric named `name` (GET /api/metrics, every page; kept per process:
        a metric's id never changes). None while the account has no such metric."""
        if name not in self._metric_ids:
            url: str | None = "/api/metrics"
            while url and name not in self._metric_ids:
                doc = self.http.request("GET", url, "GET metrics").json()
                for m in doc.get("data") or []:
                    self._metric_ids[(m.get("attributes") or {}).get("name") or ""] = str(m["id"])
                url = _relative((doc.get("links") or {}).get("next"), self.http.base_url)
        return self._metric_ids.get(name)

    def create_event(self, *, metric: str, profile: dict[str, Any], properties: dict[str, Any],
                     unique_id: str, time: str | None = None) -> None:
        """POST /api/events (202). Klaviyo stores a unique_id once per profile and metric."""
        attributes: dict[str, Any] = {
            "properties": properties, "unique_id": unique_id,
            "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
            "profile": {"data": {"type": "profile", "attributes": profile}}}
        if time:
            attributes["time"] = time
        self.http.request("POST", "/api/events", "POST events",
                          json={"data": {"type": "event", "attributes": attributes}},
                          headers={"Content-Type": "application/vnd.api+json"})

    def bulk_create_events(self, events: list[MetricEvent], backfill: bool = False) -> None:
        """POST /api/event-bulk-create-jobs: up to 1000 events in one call, grouped by profile
        (its attributes, properties included: M5 sets them, one value per profile per call).
        With `backfill`, Klaviyo records them without triggering flows."""
        groups: dict[str, list[MetricEvent]] = {}
        for e in events:
            groups.setdefault(json.dumps(e.profile, sort_keys=True), []).append(e)
        data = [{"type": "event-bulk-create", "attributes": {
            "profile": {"data": {"type": "profile", "attributes": group[0].profile}},
            "events": {"data": [{"type": "event", "attributes": _event_attributes(e, backfill)}
                                for e in group]}}} for group in groups.values()]
        self.http.request("POST", "/api/event-bulk-create-jobs", "POST event-bulk-create-jobs",
                          json={"data": {"type": "event-bulk-create-job", "attributes": {
                              "events-bulk-create": {"data": data}}}},
                          headers={"Content-Type": "application/vnd.api+json"})


def _event_attributes(event: MetricEvent, backfill: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "properties": event.properties, "unique_id": event.unique_id, "time": event.time,
        "metric": {"data": {"type": "metric", "attributes": {"name": event.metric}}}}
    if backfill:
        attributes["backfill"] = True
    return attributes


def _relative(link: str | None, base: str) -> str | None:
    """A `links.next` URL as a path on the API's base (None: no next page, or another host)."""
    if not link:
        return None
    return link[len(base):] if link.startswith(base + "/") else None


def profile_from_resource(resource: dict[str, Any]) -> Profile:
    """JSON:API profile -> Profile; SMS consent is marketing OR transactional (rule S1);
    WhatsApp consent any of `subscriptions.whatsapp`'s kinds (S9)."""
    attrs = resource.get("attributes") or {}
    sms = ((attrs.get("subscriptions") or {}).get("sms")) or {}
    marketing = sms.get("marketing") or {}
    transactional = sms.get("transactional") or {}
    by_marketing = (marketing.get("can_receive_sms_marketing") is True
                    or str(marketing.get("consent") or "").upper() == "SUBSCRIBED"
                    and marketing.get("can_receive_sms_marketing") is not False)
    by_transactional = (transactional.get("can_receive_sms_transactional") is True
                        or str(transactional.get("consent") or "").upper() == "SUBSCRIBED"
                        and transactional.get("can_receive_sms_transactional") is not False)
    consent = "marketing" if by_marketing else "transactional" if by_transactional else None
    whatsapp = (attrs.get("subscriptions") or {}).get("whatsapp")
    return Profile(id=str(resource["id"]), email=attrs.get("email") or None,
                   phone=normalize(attrs.get("phone_number")),
                   first_name=attrs.get("first_name") or None,
                   last_name=attrs.get("last_name") or None,
                   can_receive_sms=consent is not None, sms_consent=consent,
                   whatsapp_consent=whatsapp_consent(whatsapp if isinstance(whatsapp, dict)
                                                     else {}))


def last_marketing_sms(events: list[Any]) -> LastSms | None:
    """A9: the newest campaign or flow SMS among a profile's `Received SMS` events, newest
    first as listed (`Campaign Name` / `Flow Name` [assumed, as in the webhooks]); conversation
    replies carry neither and are skipped, and so are events too broken to read: this is
    context for the agent, never a reason to fail."""
    for event in events:
        attributes = event.get("attributes") if isinstance(event, dict) else None
        props = attributes.get("event_properties") if isinstance(attributes, dict) else None
        if not isinstance(props, dict):
            continue
        campaign, flow = props.get("Campaign Name"), props.get("Flow Name")
        name = campaign or flow
        moment = as_moment(attributes)
        at = moment.timestamp() if moment else None
        if not isinstance(name, str) or not name.strip() or at is None:
            continue
        body = props.get("Message Body")
        return LastSms(source="campaign" if campaign else "flow", name=name.strip(),
                       body=body if isinstance(body, str) else "", at=at)
    return None

