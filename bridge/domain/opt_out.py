"""Rule S10: a text that asks to stop in plain words Klaviyo does not treat as a keyword.

Pure: the phrase list comes in as an argument (from `SMS_OPT_OUT_PHRASES`), so matching is
tested without settings. The tag name lives here so the inbound side (which sets it) and the
reply side (which holds replies while it is on the ticket) share one spelling.

Matching compares normalised words: case, punctuation, apostrophes (’ or ' or none: "dont"),
and runs of whitespace do not matter, and a phrase matches only as whole words inside the text
("please don't text me again" matches "don't text me"; "can you text me the link" does not).
A false positive costs the agent a note and a tag to remove; a miss costs a customer texts they
asked not to get, so the defaults lean to catching.
"""

from __future__ import annotations

import re
import unicodedata

# The ticket tag that marks "the customer asked in words to stop; hold replies" (S10). An agent
# removes it (or unsubscribes the customer in Klaviyo) to release replies.
OPT_OUT_REQUEST_TAG = "sms_optout_request"

# Phrases with the word STOP are left out: STOP is an opt-out keyword anywhere in a text (S2,
# carriers' rule), so such texts are dropped before S10 looks. "unsubscribe me" only reaches
# S10 with SMS_OPT_OUT_MATCH=exact (in "contains" mode UNSUBSCRIBE is a keyword anywhere).
DEFAULT_PHRASES = (
    "don't text me", "do not text me", "don't message me", "do not message me",
    "don't contact me", "do not contact me",
    "no more texts", "no more text messages", "no more messages",
    "take me off your list", "take me off the list", "take me off this list",
    "take me off your mailing list", "take me off your texts",
    "remove me from your list", "remove me from the list", "remove me from this list",
    "remove me from your texts", "remove my number", "delete my number", "lose my number",
    "unsubscribe me", "opt me out", "opt out", "leave me alone",
    "i don't want these texts", "i don't want your texts",
)

_APOSTROPHES = re.compile(r"['’‘ʼ`´′]")
_NOT_WORD = re.compile(r"[\W_]+")      # any letter or digit, in any script, is a word


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces: apostrophes dropped ("don’t" -> "dont"),
    every other punctuation mark a word break, compatibility forms and accents folded (NFKD:
    "más" = "mas", as phone keyboards often leave them out). Letters of any script count, so a
    brand may list phrases in its customers' languages."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text)).strip()


def phrase_list(entries: tuple[str, ...] | None) -> tuple[str, ...]:
    """The phrases to look for, normalised, duplicates once: `entries` as configured
    (`SMS_OPT_OUT_PHRASES`, split by config.py), None for the defaults, () for none (S10 off)."""
    chosen = DEFAULT_PHRASES if entries is None else entries
    return tuple(dict.fromkeys(p for p in (normalise(e) for e in chosen) if p))


def opt_out_phrase(body: str, phrases: tuple[str, ...]) -> str | None:
    """The first of `phrases` (already normalised) found as whole words in `body`, else None."""
    text = f" {normalise(body)} "
    return next((p for p in phrases if f" {p} " in text), None)
