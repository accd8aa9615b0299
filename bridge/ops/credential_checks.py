"""Warnings about credentials that work today and stop on a known date (`zkbridge check`, /ops):
Zendesk API tokens end on 2027-04-30 and cannot be made any more; a pinned Klaviyo revision
leaves "stable" a year after its date. A brand should change either on purpose, not by surprise.
"""

from __future__ import annotations

from datetime import date, timedelta

from bridge.config import Settings
from bridge.ops.check import Check

API_TOKENS_END = date(2027, 4, 30)
REVISION_STABLE_FOR = 365          # days; then deprecated for a year more (API-NOTES)
REVISION_WARN_BEFORE = 90          # days before it leaves "stable"
OAUTH_STEPS = "see the README's 'Zendesk: an OAuth client' steps"


def check_zendesk_credential(settings: Settings, today: date) -> Check:
    name = "Zendesk credential"
    if settings.zendesk_oauth_client_id:
        return Check(name, True, f"an OAuth client ({settings.zendesk_oauth_client_id}); the "
                                 "bridge renews its token itself", required=False)
    if settings.zendesk_oauth_token:
        return Check(name, True, "a static OAuth token (ZENDESK_OAUTH_TOKEN): it works until it "
                                 "is revoked or expires; an OAuth client renews itself ("
                                 f"{OAUTH_STEPS})", required=False)
    days = (API_TOKENS_END - today).days
    when = f"in {days} days" if days > 0 else "already"
    return Check(name, False, f"an API token (ZENDESK_API_TOKEN): Zendesk stops every API token "
                              f"on {API_TOKENS_END.isoformat()} ({when}) and no new one can be "
                              f"made; switch to an OAuth client before then ({OAUTH_STEPS})",
                 required=False)


def check_klaviyo_revision(settings: Settings, today: date) -> Check:
    name = "Klaviyo revision"
    try:
        pinned = date.fromisoformat(settings.klaviyo_revision.removesuffix(".pre"))
    except ValueError:
        return Check(name, False, f"KLAVIYO_REVISION={settings.klaviyo_revision!r} is not a "
                                  "date", required=False)
    stable_until = pinned + timedelta(days=REVISION_STABLE_FOR)
    left = (stable_until - today).days
    if left > REVISION_WARN_BEFORE:
        return Check(name, True, f"{settings.klaviyo_revision} is stable until "
                                 f"{stable_until.isoformat()}", required=False)
    what = f"leaves 'stable' in {left} days" if left > 0 else "is no longer 'stable'"
    return Check(name, False, f"{settings.klaviyo_revision} {what} ({stable_until.isoformat()}) "
                              "and is answered one more year after: move KLAVIYO_REVISION to a "
                              "newer revision after checking the changelog", required=False)
