"""Which brand a Zendesk event is for (E7): one Zendesk webhook serves every brand, so a ticket
event is routed by the ticket's Zendesk brand id, else by the brand number of its SMS
conversation (its external_id), else to the default brand (bridge/brands.py
`brand_for_ticket`). A single-brand deployment reads nothing: everything is the default's.
"""

from __future__ import annotations

from bridge.brands import brand_for_ticket
from bridge.domain.brand_scope import DEFAULT
from bridge.payloads.zendesk_events import brand_id_of, conversation_of
from workers import deps


def ticket_event_brand(ref: str) -> str:
    """The brand name of the Zendesk event `ref` (one Redis read with several brands)."""
    brands = deps.brands()
    if len(brands) == 1:
        return DEFAULT
    event = deps.store().events.load_event(ref)
    data = (event or {}).get("data")
    if not isinstance(data, dict):
        return DEFAULT     # gone or compacted: the runner says why, as for one brand
    conv = conversation_of(data)
    return brand_for_ticket(brands, brand_id_of(data), conv[1] if conv else None).name
