"""Properties of the parsers and rules over inputs nobody wrote by hand (E4 bad input, S2-S6, A5,
M2, E5). Each property says what must hold for *every* input, and Hypothesis looks for one where
it does not: a parser either returns its value or raises its own error type, a rule is total.

Examples per property are kept moderate so the file runs in a few seconds; a failure prints the
smallest input that breaks the property.
"""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from datetime import UTC, datetime
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.domain.decisions import AddComment, CreateTicket, Drop
from bridge.domain.metric_rules import PROPERTY_KEYS, build_event, ticket_properties
from bridge.domain.model import Conversation, InboundSms, Profile, RawEvent
from bridge.domain.phones import (
    brand_number_kind,
    canonical_brand_number,
    mask,
    mask_email,
    normalize,
)
from bridge.domain.reply_text import GSM_BASIC, GSM_EXTENDED, comment_text, html_to_text, segments
from bridge.domain.sms_rules import (
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Policy,
    comment_body,
    decide_inbound,
    keyword_kind,
    screen,
)
from bridge.handlers.runner import Done
from bridge.handlers.sms_inbound import InboundDeps, process_text
from bridge.payloads.envelopes import EnvelopeError, split_klaviyo, split_zendesk
from bridge.payloads.klaviyo_events import (
    DeliveredSms,
    EventShapeError,
    conversation_route,
    parse_delivered_sms,
    parse_inbound_sms,
)
from bridge.payloads.signatures import SignatureError, verify_klaviyo, verify_zendesk
from bridge.payloads.zendesk_events import agent_comment, new_status, reply_route, ticket_id

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- strategies ---------------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=8)
# What may stand where an object, a string or a number belongs (json.loads also yields nan and
# inf, from "NaN" and "1e400"); kept shallow so that examples are cheap to make.
odd_values = (json_scalars | st.floats() | st.lists(json_scalars, max_size=2)
              | st.dictionaries(st.text(max_size=4), json_scalars, max_size=2))

CUSTOM_WORDS = ("VIP", "SALE", "DEALS")
policies = st.builds(Policy, sync_enabled=st.booleans(),
                     custom_keywords=st.frozensets(st.sampled_from(CUSTOM_WORDS)),
                     opt_out_match=st.sampled_from(["contains", "exact"]))
STATUSES = ("new", "open", "pending", "hold", "solved", "closed", "deleted")
statuses = (st.none() | st.sampled_from(STATUSES) | st.sampled_from(STATUSES).map(str.upper)
            | st.text(max_size=10))

COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@st.composite
def phone_like(draw: st.DrawFn) -> str:
    """Phone numbers as people and APIs write them: E.164, national digits, spaces, dashes."""
    digits = draw(st.text(string.digits, min_size=4, max_size=13))
    cc = str(draw(st.sampled_from(COUNTRY_CODES)))
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    body = sep.join(digits[i:i + 3] for i in range(0, len(digits), 3))
    return draw(st.sampled_from(["+", "", "00"])) + cc + sep + body


def _example_numbers() -> list[str]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is not None:
            found.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return found


# Real-shaped numbers of every region: its example mobile number with other last digits.
e164_numbers = st.builds(lambda example, last: example[:-4] + last,
                         st.sampled_from(_example_numbers()),
                         st.text(string.digits, min_size=4, max_size=4))
phones_or_junk = (e164_numbers | phone_like() | st.text(max_size=20)
                  | st.text(string.digits + "+ -()", max_size=20))
brand_numbers = (st.sampled_from(["+18005550100", "+14155550123", "12345", "123456", "ACME",
                                  "", " ", "1234567"]) | phones_or_junk)


@st.composite
def inbound_sms(draw: st.DrawFn) -> InboundSms:
    return InboundSms(event_id=draw(st.text(max_size=10)),
                      profile_id=draw(st.none() | st.text(max_size=10)),
                      customer_phone=draw(st.none() | phone_like().map(normalize)),
                      brand_number=draw(brand_numbers), body=draw(st.text(max_size=200)),
                      media_count=draw(st.integers(0, 12)),
                      sent_at=datetime(2026, 11, 25, tzinfo=UTC))


def maybe(good: st.SearchStrategy) -> st.SearchStrategy:
    """The documented value, or something of the wrong type in its place."""
    return good | odd_values


def optional(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """An object where each documented field may be missing or of the wrong type."""
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


documented_items = st.fixed_dictionaries({
    "external_id": st.text(min_size=1, max_size=12),
    "topic": st.sampled_from(["event:klaviyo.sent_sms", "event:klaviyo.received_sms"]),
    "payload": st.fixed_dictionaries({
        "type": st.just("event"), "id": st.text(min_size=1, max_size=12),
        "attributes": st.fixed_dictionaries({
            "timestamp": st.integers(0, 4 * 10**9),
            "datetime": st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat),
            "event_properties": st.fixed_dictionaries({
                "Message Body": st.text(max_size=60), "To Number": brand_numbers,
                "From Number": phones_or_junk},
                optional={"Media URLs": st.lists(st.text(max_size=5), max_size=3),
                          "Campaign Name": st.text(max_size=10),
                          "Flow Name": st.text(max_size=10)})}),
        "relationships": st.fixed_dictionaries({"profile": st.fixed_dictionaries({
            "data": st.fixed_dictionaries({"type": st.just("profile"),
                                           "id": st.text(max_size=12)})})})})})
KLAVIYO_PATHS = [("external_id",), ("payload", "id"), ("payload", "attributes"),
                 ("payload", "attributes", "timestamp"), ("payload", "attributes", "datetime"),
                 ("payload", "attributes", "event_properties"),
                 *[("payload", "attributes", "event_properties", key) for key in (
                     "Message Body", "To Number", "From Number", "Media URLs", "Campaign Name",
                     "Flow Name")],
                 ("payload", "relationships"), ("payload", "relationships", "profile"),
                 ("payload", "relationships", "profile", "data"),
                 ("payload", "relationships", "profile", "data", "id")]
MISSING = object()


def broken(doc: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    """`doc` with the value at each path replaced (or removed, for MISSING)."""
    doc = json.loads(json.dumps(doc))
    for path, value in changes:
        where = doc
        for key in path[:-1]:
            where = where.get(key) if isinstance(where, dict) else None
        if isinstance(where, dict):
            if value is MISSING:
                where.pop(path[-1], None)
            else:
                where[path[-1]] = value
    return doc


# A delivery item as split_klaviyo lets it through (its payload is an object): the documented
# shape with up to three fields below that missing, of the wrong type, or holding odd values.
klaviyo_items = st.builds(broken, documented_items, st.lists(st.tuples(
    st.sampled_from(KLAVIYO_PATHS), st.just(MISSING) | odd_values), max_size=3))

comment_ids = st.integers() | st.text(string.digits, min_size=1, max_size=400)
zendesk_comments = optional(
    id=comment_ids, body=st.text(max_size=40), html_body=st.text(max_size=40),
    is_public=st.booleans(), attachments=st.lists(st.text(max_size=5), max_size=3),
    author=optional(id=st.text(string.digits, max_size=6), is_staff=st.booleans()))
# What split_zendesk lets through: an object with a 'detail' object; below that, anything.
zendesk_payloads = st.fixed_dictionaries({
    "id": st.just("ev"),
    "type": st.sampled_from(["zen:event-type:ticket.comment_added",
                             "zen:event-type:ticket.status_changed",
                             "zen:event-type:ticket.created"]) | st.text(max_size=20),
    "detail": optional(id=st.text(string.digits, min_size=1, max_size=8), status=statuses,
                       requester_id=st.text(max_size=6),
                       external_id=st.just("zkb-sms:+15005550101:+18005550100")
                       | st.text(max_size=30)),
    "event": maybe(optional(comment=zendesk_comments) | optional(previous=statuses,
                                                                 current=statuses))})


# --- S2 keywords --------------------------------------------------------------------------------

KEYWORDS = sorted(OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS) + list(CUSTOM_WORDS)
TEXTS = KEYWORDS + ["hello", "stopwatch", "help me", "please cancel my order", "yes please",
                    "where is my order?", "Y", "info", "end of story", "START now"]
# Whitespace as phones type it, and Unicode punctuation (general category P*), which includes
# what phone keyboards add on their own: … “ ” ’ « » ¡ ¿ 。
WHITESPACE = [c for c in map(chr, range(0x3000 + 1)) if c.isspace()]
PUNCTUATION = [c for c in map(chr, range(0x3000 + 1)) if unicodedata.category(c).startswith("P")]


def ascii_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip and c.isascii() else c for c, flip in zip(text, flips,
                                                                                  strict=True))


@FAST
@given(text=st.text(), policy=policies)
def test_keyword_kind_never_raises_and_names_a_known_kind(text: str, policy: Policy) -> None:
    assert keyword_kind(text, policy) in (None, "opt_out", "opt_in", "custom", "help")


@FAST
@given(data=st.data(), text=st.sampled_from(TEXTS), policy=policies)
def test_keyword_kind_ignores_case_surrounding_space_and_trailing_punctuation(
        data: st.DataObject, text: str, policy: Policy) -> None:
    spaces = st.text(st.sampled_from(WHITESPACE), max_size=3)
    variant = (data.draw(spaces) + ascii_case(data.draw, text) + data.draw(spaces)
               + data.draw(st.text(st.sampled_from(PUNCTUATION + WHITESPACE), max_size=4)))
    assert keyword_kind(variant, policy) == keyword_kind(text, policy)


@FAST
@given(data=st.data(), text=st.text(), policy=policies)
def test_keyword_kind_of_any_text_ignores_ascii_case(data: st.DataObject, text: str,
                                                     policy: Policy) -> None:
    assert keyword_kind(ascii_case(data.draw, text), policy) == keyword_kind(text, policy)
    assert keyword_kind(text.upper(), policy) == keyword_kind(text, policy)


# --- S3/S4 screening and threading --------------------------------------------------------------

SCREEN_REASONS = {"sync_disabled", "branded_sender", "invalid_brand_number",
                  "keyword_opt_out", "keyword_opt_in", "keyword_custom"}


@FAST
@given(sms=inbound_sms(), policy=policies)
def test_screen_is_total_and_names_a_known_reason(sms: InboundSms, policy: Policy) -> None:
    drop = screen(sms, policy)
    assert drop is None or (isinstance(drop, Drop) and drop.reason in SCREEN_REASONS)
    if drop is None:
        assert policy.sync_enabled
        assert brand_number_kind(sms.brand_number) in ("toll_free", "long_code", "short_code")


@FAST
@given(ticket=st.none() | st.integers(1, 10**12), status=statuses)
def test_decide_inbound_is_total_over_every_status(ticket: int | None, status: str | None) -> None:
    conv = Conversation(phone="+15005550101", brand_number="+18005550100", ticket_id=ticket,
                        ticket_status=status)
    decision = decide_inbound(conv)
    folded = (status or "").lower()
    if ticket is None or folded == "deleted":
        assert decision == CreateTicket()
    elif folded == "closed":
        assert decision == CreateTicket(followup_of=ticket)
    elif folded == "hold":
        assert decision == AddComment(ticket, status=None)
    else:   # new/open/pending/solved and anything Zendesk may add later: comment and (re)open
        assert decision == AddComment(ticket, status="open")


@FAST
@given(sms=inbound_sms())
def test_comment_body_is_never_empty_and_never_loses_the_text(sms: InboundSms) -> None:
    body = comment_body(sms)
    assert body.strip()
    assert sms.body.strip() in body
    if sms.media_count:
        assert str(sms.media_count) in body
    elif sms.body.strip():
        assert body == sms.body.strip()


# --- A5 comment text ----------------------------------------------------------------------------

TAG_SOUP = st.text(st.sampled_from(list("<>/!?-&#;=\"' \n\tabpdivscrtylebr[]CDATA0123x")) ,
                   max_size=80)
WORDS = st.text(string.ascii_letters + string.digits + "éüßЖ中😀", min_size=1, max_size=12)
BLOCK_TAGS = ["p", "div", "h1", "blockquote", "pre", "li", "td", "th", "dd", "hr"]
INLINE_TAGS = ["span", "b", "i", "a", "strong", "em", "code"]


@FAST
@given(html=st.text() | TAG_SOUP)
def test_html_to_text_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)
    assert isinstance(comment_text(html, html), str)


@FAST
@given(text=st.text().filter(lambda t: "<" not in t and "&" not in t))
def test_plain_text_keeps_every_word_in_order(text: str) -> None:
    assert html_to_text(text).split() == text.split()


@st.composite
def html_documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Agent-comment HTML: words in nested block and inline tags, <br>s, entities, attributes;
    returns the HTML and the words a reader sees, in order."""
    parts, words = [], []
    for _ in range(draw(st.integers(1, 8))):
        tag = draw(st.sampled_from(BLOCK_TAGS + INLINE_TAGS))
        if tag in INLINE_TAGS and parts:
            parts.append(" ")             # inline elements run on: "<b>a</b><b>b</b>" is "ab"
        chunk = draw(st.lists(WORDS, min_size=1, max_size=6))
        words += chunk
        attrs = draw(st.sampled_from(["", ' class="x"', " href='https://a.test/?a=1&amp;b=2'",
                                      ' style="color:red"']))
        inner = draw(st.sampled_from([" ", "<br>", " <br/> ", "&nbsp;", "\n"])).join(chunk)
        parts.append(f"<{tag}{attrs}>{inner}</{tag}>")
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["<br>", "\n", " ", "<hr>", "<!-- note -->"])))
        if draw(st.booleans()):
            parts.append(" &amp; ")
            words.append("&")
    html = "".join(parts)
    if draw(st.booleans()):
        html = f"<ul>{html}</ul>"
    return html, words


@FAST
@given(doc=html_documents())
def test_html_to_text_keeps_all_visible_words_in_order(doc: tuple[str, list[str]]) -> None:
    html, words = doc
    seen = [w for w in html_to_text(html).split() if w != "-"]   # "- " marks list items
    assert seen == words


def test_html_to_text_never_truncates_a_long_comment() -> None:
    words = [f"word{i}" for i in range(2500)]                      # ~ 20 kB of HTML
    html = "".join(f"<p>{' '.join(words[i:i + 50])}</p>" for i in range(0, len(words), 50))
    assert html_to_text(html).split() == words


# --- SMS segments -------------------------------------------------------------------------------

GSM_ALPHABET = sorted(GSM_BASIC | GSM_EXTENDED)
sms_texts = (st.text(st.sampled_from(GSM_ALPHABET), max_size=400)
             | st.text(max_size=200)
             | st.text(st.sampled_from(GSM_ALPHABET + ["é", "中", "😀", "ü", "€"]), max_size=400)
             # near the part boundaries, where a 2-septet or 2-unit character may not fit
             | st.builds(lambda n, m, tail: "a" * n + "€" * m + tail, st.integers(0, 310),
                         st.integers(0, 160), st.text(st.sampled_from("a€"), max_size=5))
             | st.builds(lambda k, tail: "😀" * k + tail, st.integers(0, 150),
                         st.text(st.sampled_from("a中😀"), max_size=5)))


def reference_segments(text: str) -> tuple[str, int]:
    """Written from GSM 03.38 / 3GPP 23.040: a text that fits one SMS is one segment (160
    septets, or 70 UTF-16 units); longer ones are split into parts of 153 septets or 67 units,
    and a part never splits an escape sequence (€, [, ...) or a surrogate pair (emoji)."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        encoding, single, part, size = "GSM-7", 160, 153, lambda c: 2 if c in GSM_EXTENDED else 1
    else:
        encoding, single, part, size = "UCS-2", 70, 67, lambda c: 2 if ord(c) > 0xFFFF else 1
    if sum(map(size, text)) <= single:
        return encoding, 1
    parts, used = 1, 0
    for c in text:
        if used + size(c) > part:
            parts, used = parts + 1, 0
        used += size(c)
    return encoding, parts


@FAST
@given(text=sms_texts)
def test_segments_match_the_gsm_and_ucs2_splitting_rules(text: str) -> None:
    encoding, count = segments(text)
    gsm = all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)
    assert encoding == ("GSM-7" if gsm else "UCS-2")
    assert count >= 1
    assert (encoding, count) == reference_segments(text)


@FAST
@given(text=sms_texts, data=st.data())
def test_segments_never_decrease_as_a_text_grows(text: str, data: st.DataObject) -> None:
    """Including across encodings: one emoji added to a GSM-7 text never makes it cheaper."""
    cut = data.draw(st.integers(0, len(text)))
    assert segments(text[:cut])[1] <= segments(text)[1]
    more = data.draw(st.sampled_from(["a", "€", "中", "😀"]))
    assert segments(text)[1] <= segments(text + more)[1]


@pytest.mark.parametrize(("text", "expected"), [
    ("a" * 160, ("GSM-7", 1)), ("a" * 161, ("GSM-7", 2)), ("€" * 80, ("GSM-7", 1)),
    ("€" * 81, ("GSM-7", 2)), ("é" * 70, ("GSM-7", 1)), ("ä" * 70 + "ê", ("UCS-2", 2)),
    ("中" * 70, ("UCS-2", 1)), ("中" * 71, ("UCS-2", 2)), ("😀" * 35, ("UCS-2", 1)),
    ("😀" * 36, ("UCS-2", 2)),
    ("😀" * 67, ("UCS-2", 3)),   # 134 units, but only 33 emoji fit in a 67-unit part
    ("a" * 152 + "€" * 77, ("GSM-7", 3)),   # the € at the end of part 1 moves to part 2
])
def test_segments_at_the_boundaries(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


# --- E4 envelopes -------------------------------------------------------------------------------

def split_or_refuse(split: Any, body: bytes) -> list[RawEvent] | None:
    try:
        events = split(body)
    except EnvelopeError as e:
        assert str(e)          # the 400 body names the problem
        return None
    assert events and all(isinstance(e, RawEvent) and e.id.strip() for e in events)
    return events


@FAST
@given(body=st.binary(max_size=300))
def test_splitting_arbitrary_bytes_gives_events_or_an_envelope_error(body: bytes) -> None:
    split_or_refuse(split_klaviyo, body)
    split_or_refuse(split_zendesk, body)


@FAST
@given(doc=json_values | zendesk_payloads
       | st.fixed_dictionaries({"data": st.lists(klaviyo_items | odd_values, max_size=3)}))
def test_splitting_arbitrary_json_gives_events_or_an_envelope_error(doc: Any) -> None:
    body = json.dumps(doc).encode()
    for split in (split_klaviyo, split_zendesk):
        events = split_or_refuse(split, body)
        for event in events or []:
            json.dumps(event.data, ensure_ascii=False).encode()   # storable as it came


@FAST
@given(text=st.text(string.printable + "\\ud800\\udc00\"{}[]", max_size=60))
def test_splitting_json_ish_text_gives_events_or_an_envelope_error(text: str) -> None:
    split_or_refuse(split_klaviyo, text.encode())
    split_or_refuse(split_zendesk, ('{"id":"1","type":"t","detail":{"x":"' + text + '"}}').encode())


# --- Klaviyo events -----------------------------------------------------------------------------

@FAST
@given(item=klaviyo_items)
def test_klaviyo_readers_return_a_value_or_an_event_shape_error_only(item: Any) -> None:
    # The receiver calls conversation_route while storing a delivery: a raise would be a 500.
    route = conversation_route(item)
    assert route is None or (isinstance(route[0], str) and math.isfinite(route[1]))
    try:
        assert isinstance(parse_delivered_sms(item), DeliveredSms)
    except EventShapeError:
        pass
    try:
        sms = parse_inbound_sms(item)
    except EventShapeError:
        assert route is None
        return
    assert isinstance(sms.body, str) and isinstance(sms.brand_number, str)
    assert sms.brand_number.strip() == sms.brand_number and sms.brand_number
    assert sms.customer_phone is None or re.fullmatch(r"\+[1-9]\d{1,15}", sms.customer_phone)
    assert sms.profile_id is None or isinstance(sms.profile_id, str)
    assert sms.media_count >= 0 and sms.sent_at.tzinfo is not None
    assert (route is None) == (sms.customer_phone is None and sms.profile_id is None)


# --- Zendesk events -----------------------------------------------------------------------------

@FAST
@given(data=zendesk_payloads)
def test_zendesk_event_readers_never_raise(data: dict[str, Any]) -> None:
    """reply_route runs in the receiver (a raise would be a 500); the others in workers."""
    route = reply_route(data)
    assert route is None or (route[0].startswith("reply|") and math.isfinite(route[1]))
    comment = agent_comment(data)
    assert comment is None or isinstance(comment.text, str)
    assert new_status(data) is None or isinstance(new_status(data), str)
    assert ticket_id(data) is None or isinstance(ticket_id(data), int)


# --- E4 signatures ------------------------------------------------------------------------------

header_values = st.none() | st.text(max_size=60) | st.text(
    st.characters(max_codepoint=0xFF), max_size=60)   # WSGI headers are latin-1 strings
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).timestamp()


@FAST
@given(secret=st.text(min_size=1, max_size=20), body=st.binary(max_size=200),
       timestamp=header_values | st.floats().map(str) | st.integers().map(str),
       signature=header_values, now=st.just(NOW) | st.floats(0, 4e9))
def test_signature_checks_raise_only_signature_errors(secret: str, body: bytes,
                                                      timestamp: str | None,
                                                      signature: str | None, now: float) -> None:
    for verify in (verify_klaviyo, verify_zendesk):
        try:
            verify(secret, body, timestamp, signature, now)
        except SignatureError as e:
            assert e.reason in {"missing_headers", "bad_timestamp", "stale_timestamp",
                                "future_timestamp", "bad_signature"}
        else:   # a random signature over a random body must not pass
            pytest.fail(f"{verify.__name__} accepted {timestamp!r} {signature!r}")


@FAST
@given(secret=st.text(min_size=1, max_size=20), body=st.binary(max_size=200),
       skew=st.integers(-299, 299), flip=st.integers(0, 199))
def test_a_signature_made_by_the_vendors_recipe_passes_and_any_change_fails(
        secret: str, body: bytes, skew: int, flip: int) -> None:
    import base64
    import hashlib
    import hmac

    at = int(NOW) + skew
    k_ts = str(at)
    k_sig = hmac.new(secret.encode(), body + k_ts.encode(), hashlib.sha256).hexdigest()
    verify_klaviyo(secret, body, k_ts, k_sig, NOW)
    z_ts = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    z_sig = base64.b64encode(hmac.new(secret.encode(), z_ts.encode() + body,
                                      hashlib.sha256).digest()).decode()
    verify_zendesk(secret, body, z_ts, z_sig, NOW)
    if body:
        i = flip % len(body)
        changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
        with pytest.raises(SignatureError):
            verify_klaviyo(secret, changed, k_ts, k_sig, NOW)
        with pytest.raises(SignatureError):
            verify_zendesk(secret, changed, z_ts, z_sig, NOW)


# --- M2 ticket properties -----------------------------------------------------------------------



# A Zendesk ticket: any documented field missing or of the wrong type, plus unknown fields.
tickets = st.builds(lambda extra, known: {**extra, **known},
                    st.dictionaries(st.text(max_size=6), json_scalars, max_size=3),
                    optional(**{
                        "id": st.integers(1, 10**9) | st.text(string.digits, min_size=1,
                                                              max_size=9),
                        "assignee_id": st.just(7), "group_id": st.just(8),
                        "requester_id": st.just(9),
                        "via": optional(channel=st.text(max_size=8),
                                        source=optional(rel=st.none() | st.text(max_size=8))),
                        "custom_fields": st.lists(optional(id=st.integers(), value=json_scalars),
                                                  max_size=3),
                        "tags": st.none() | st.lists(st.text(max_size=8), max_size=3),
                        **{k: json_scalars for k in ("description", "priority", "subject",
                                                      "type", "status")}}))


USERS = {7: {"email": "agent@shop.test", "name": "Ana"}, 9: {"email": "c@example.com"}}
GROUPS = {8: {"name": "Support"}}


@FAST
@given(ticket=tickets, status=st.none() | st.text(max_size=8))
def test_ticket_properties_always_has_exactly_the_fourteen_keys(ticket: dict[str, Any],
                                                                status: str | None) -> None:
    props = ticket_properties(ticket, USERS, GROUPS, "https://acme.zendesk.com/", status)
    assert tuple(props) == PROPERTY_KEYS and len(props) == 14
    assert isinstance(props["Tags"], list)
    json.dumps(props)   # it goes to Klaviyo as JSON
    event = build_event("Opened Ticket", ticket, USERS, GROUPS, "https://acme.zendesk.com",
                        "2026-11-25T10:00:00Z", status)
    assert event is None or tuple(event.properties) == PROPERTY_KEYS


# --- E5 phones ----------------------------------------------------------------------------------

@SLOW
@given(raw=st.none() | phones_or_junk | st.text())
def test_phone_functions_never_raise(raw: str | None) -> None:
    e164 = normalize(raw)
    assert e164 is None or (re.fullmatch(r"\+[1-9]\d{1,15}", e164) and normalize(e164) == e164)
    assert brand_number_kind(raw) in ("toll_free", "long_code", "short_code", "branded", "invalid")
    if raw is not None:
        assert isinstance(canonical_brand_number(raw), str)
    assert isinstance(mask_email(raw), str)
    assert isinstance(mask(raw), str)


def revealed_digits(raw: str, masked: str) -> str:
    """The digits a masked phone shows after its '+<country code>' prefix (the country code is
    shown on purpose: it tells people apart without identifying anyone)."""
    try:
        cc = f"+{phonenumbers.parse(raw, None).country_code}"
    except phonenumbers.NumberParseException:
        cc = "+"
    rest = masked[len(cc):] if masked.startswith(cc) else masked
    return "".join(c for c in rest if c.isdigit())


@SLOW
@given(raw=phones_or_junk | st.text())
def test_mask_never_reveals_more_than_the_last_four_digits(raw: str) -> None:
    masked = mask(raw)
    shown = revealed_digits(raw, masked)
    digits = "".join(c for c in raw if c.isdigit())
    assert len(shown) <= 4
    assert digits.endswith(shown)


@SLOW
@given(raw=e164_numbers)
def test_a_masked_e164_number_shows_its_country_code_and_last_four_digits_only(raw: str) -> None:
    e164 = normalize(raw)
    assert e164 is not None
    cc = str(phonenumbers.parse(e164, None).country_code)
    national = e164[1 + len(cc):]
    masked = mask(e164)
    if len(national) > 4:
        assert masked == f"+{cc}{'•' * (len(national) - 4)}{national[-4:]}"
    assert revealed_digits(e164, masked) in (national[-4:], "")


# --- bad numbers: accepted at the receiver (it does not judge contents), dropped by the worker ---

NOT_PHONES = ["", "not a phone", "123", "+1", "+999123456", "☎ 555", "+1555555555555555555",
              "00000000", "+0 800 555 0100", "٠١٢٣٤٥٦٧٨٩"]
BRAND = "+18005550100"


def documented_item(event_id: str, *, customer: str, brand: str = BRAND) -> dict[str, Any]:
    return {"external_id": event_id, "topic": "event:klaviyo.sent_sms",
            "payload": {"type": "event", "id": event_id,
                        "attributes": {"timestamp": 1764064327,
                                       "datetime": "2026-11-25T10:12:07+00:00",
                                       "event_properties": {"Message Body": "Where is my order?",
                                                            "To Number": brand,
                                                            "From Number": customer}},
                        "relationships": {"profile": {"data": {"type": "profile",
                                                               "id": "01JPROFILE"}}}}}


class ProfileOnlyConversations:
    """The one store call screening makes: the cached profile (consenting, phone unknown)."""

    def cached_profile(self, profile_id: str) -> Profile:
        return Profile(profile_id, None, None, None, None, can_receive_sms=True)


class ProfileOnlyStore:
    conversations = ProfileOnlyConversations()


def worker_outcome(item: dict[str, Any]) -> Done:
    """What the inbound worker does with the stored event. A text it drops is dropped before
    any Zendesk or Klaviyo call: none is given, so touching one would fail the test."""
    deps = InboundDeps(store=ProfileOnlyStore(), zendesk=None, klaviyo=None,  # type: ignore[arg-type]
                       policy=Policy())
    return process_text(f"klaviyo:{item['payload']['id']}", {"data": item}, deps)


@pytest.mark.parametrize("phone", NOT_PHONES)
def test_a_text_from_a_number_that_is_no_phone_number_is_dropped_by_the_worker(
        phone: str) -> None:
    item = documented_item("bad-phone", customer=phone)
    assert parse_inbound_sms(item).customer_phone is None
    assert worker_outcome(item) == Done("dropped", "no_customer_phone")
    # the receiver still routes it (by the Klaviyo profile), so it is dropped in its turn
    sent = datetime(2026, 11, 25, 10, 12, 7, tzinfo=UTC).timestamp()
    assert conversation_route(item) == (f"profile-01JPROFILE|{BRAND}", sent)


@pytest.mark.parametrize(("brand", "reason"), [("ACME", "branded_sender"),
                                               ("+1", "invalid_brand_number"),
                                               ("1234567", "invalid_brand_number"),
                                               ("", "malformed_event")])
def test_a_text_to_a_number_that_cannot_receive_texts_is_dropped_by_the_worker(
        brand: str, reason: str) -> None:
    assert worker_outcome(documented_item("bad-brand", customer="+15005550101",
                                          brand=brand)) == Done("dropped", reason)


@SLOW
@given(phone=phones_or_junk)
def test_any_from_number_is_either_a_customer_phone_or_a_counted_drop(phone: str) -> None:
    item = documented_item("any-phone", customer=phone)
    sms = parse_inbound_sms(item)
    assert screen(sms, Policy()) is None          # the profile's phone may still serve
    if sms.customer_phone is None:
        assert worker_outcome(item) == Done("dropped", "no_customer_phone")
    else:
        assert normalize(phone) == sms.customer_phone


def test_a_malformed_marked_section_is_read_as_text() -> None:
    """Python 3.11's html.parser asserts on "<![0" (found by the property above)."""
    assert html_to_text("hi <![0 there") == "hi <![0 there"
