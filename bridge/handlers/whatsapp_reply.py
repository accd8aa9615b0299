"""S9: what an agent's reply on a WhatsApp ticket does differently from an SMS reply.

The reply goes out in the customer's WhatsApp conversation in Klaviyo, through the same
exactly-once machinery and budget as a text (agent_reply, A6). Outside the 24-hour window it is
held (reply_hold); when Klaviyo itself refuses a send as outside the window, the reply is held
the same way. With `WHATSAPP_TEMPLATE_FLOW_METRIC` set and the ticket tagged
`whatsapp_send_template`, the reply is handed to that flow instead: one Klaviyo event (metric
= the setting, `unique_id` derived from the comment id, so it is recorded once however often
this runs), whose flow sends the brand's approved template with the text as a property.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.domain import whatsapp
from bridge.domain.model import WHATSAPP, Conversation, brand_number_of, channel_of
from bridge.domain.reply_rules import AgentComment
from bridge.errors import Permanent
from bridge.handlers.notes import delivery_note
from bridge.handlers.runner import Done
from bridge.payloads.whatsapp import RECEIVED_WHATSAPP_METRIC, is_window_refusal

if TYPE_CHECKING:
    from bridge.handlers.agent_reply import ReplyDeps


def refused_for_window(brand: str, error: Permanent) -> bool:
    """Is this refusal Klaviyo's "outside the 24-hour window" for a WhatsApp send?"""
    return channel_of(brand) == WHATSAPP and is_window_refusal(error.status, error.body)


def received_metric(brand: str) -> str:
    """The metric that records a conversation message reaching the customer (A6's evidence)."""
    return RECEIVED_WHATSAPP_METRIC if channel_of(brand) == WHATSAPP else "Received SMS"


def reply_mode(sms_reply_mode: str, brand: str) -> str:
    """SMS_REPLY_MODE for texts; a WhatsApp reply always goes in its conversation: the
    flow_event mode's flow sends an SMS."""
    return "conversations" if channel_of(brand) == WHATSAPP else sms_reply_mode


def channel_name(channel: str) -> str:
    return "WhatsApp" if channel == WHATSAPP else "SMS"


def send_template(comment: AgentComment, text: str, conv: Conversation,
                  deps: ReplyDeps) -> Done:
    """Record the template flow's metric for this reply (idempotent by `unique_id`), then tell
    the agent once that it went as a template."""
    metric = deps.holds.template_metric
    if not metric:
        raise RuntimeError("a template send was decided without WHATSAPP_TEMPLATE_FLOW_METRIC")
    deps.klaviyo.create_event(metric=metric, profile={"phone_number": conv.phone},
                              properties={"body": text, "ticket_id": comment.ticket_id,
                                          "brand_number": brand_number_of(conv.brand_number),
                                          "channel": WHATSAPP},
                              unique_id=f"zendesk-comment-{comment.comment_id}-template")
    deps.store.ledger.finish_reply(comment.comment_id, deps.clock())
    delivery_note(comment.ticket_id, comment.comment_id, "whatsapp_template",
                  whatsapp.template_sent_note(metric), deps.store, deps.zendesk, deps.clock)
    return Done("applied", "whatsapp_template", {"ticket_id": comment.ticket_id,
                                                 "mode": "whatsapp_template"})
