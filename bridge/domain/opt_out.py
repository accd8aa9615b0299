"""Rule S10: a text that asks to stop in plain words Klaviyo does not treat as a keyword.

Pure: the phrase list comes in as an argument (from `SMS_OPT_OUT_PHRASES`), so matching is
tested without settings. The tag name lives here so the inbound side (which sets it) and the
reply side (which holds replies while it is on the ticket) share one spelling.
"""

from __future__ import annotations

# The ticket tag that marks "the customer asked in words to stop; hold replies" (S10). An agent
# removes it (or unsubscribes the customer in Klaviyo) to release replies.
OPT_OUT_REQUEST_TAG = "sms_optout_request"
