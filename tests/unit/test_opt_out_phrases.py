"""Rule S10: opt-out requests in plain words, matched in a longer text whatever the case,
punctuation, apostrophe or spacing, as whole words only; the phrase list comes from
SMS_OPT_OUT_PHRASES (defaults when unset, `none` switches it off)."""

from __future__ import annotations

import fakeredis
import pytest

from bridge.adapters.outcomes import Outcomes
from bridge.config import Settings
from bridge.domain import sms_rules as rules
from bridge.domain.opt_out import (
    DEFAULT_PHRASES,
    OPT_OUT_REQUEST_TAG,
    normalise,
    opt_out_phrase,
    phrase_list,
)
from bridge.errors import ConfigError
from tests.unit.test_prometheus import scrape
from tests.unit.test_rules import sms
from tests.unit.test_settings import SANDBOX

DEFAULTS = phrase_list(None)


@pytest.mark.parametrize(("body", "phrase"), [
    ("Please don't text me again", "dont text me"),
    ("please DON’T TEXT ME again!!", "dont text me"),             # curly apostrophe, capitals
    ("pls dont text me", "dont text me"),                         # no apostrophe at all
    ("Do   not\ntext   me.", "do not text me"),                  # runs of spaces, a newline
    ("ok. Take me off your list, thanks", "take me off your list"),
    ("Remove me from your list!!!", "remove me from your list"),
    ("I want to opt out", "opt out"),
    ("No more texts please", "no more texts"),
    ("just leave me alone…", "leave me alone"),
    ("Ｄｏｎ'ｔ text me", "dont text me"),                          # full-width letters (NFKC)
])
def test_a_phrase_is_found_inside_a_longer_text(body: str, phrase: str) -> None:
    assert opt_out_phrase(body, DEFAULTS) == phrase


@pytest.mark.parametrize("body", [
    "Can you text me the tracking link?",          # "text me" without the "don't"
    "Don't text message me after 9, call instead", # "text message me" is not "text me"
    "I'll leave it alone",
    "Please take me off hold",
    "remove me from the waitlist for the red shoes",
    "The opt-outs form is broken",                  # "opt outs" is not "opt out" as words
    "Where is my order #1001?",
])
def test_no_phrase_in_ordinary_texts(body: str) -> None:
    assert opt_out_phrase(body, DEFAULTS) is None


def test_a_phrase_only_matches_whole_words() -> None:
    assert opt_out_phrase("leave me alonee", DEFAULTS) is None
    assert opt_out_phrase("xleave me alone", DEFAULTS) is None


def test_the_default_list_leaves_stop_to_the_keyword_rule() -> None:
    """A text with the word STOP is an S2 keyword everywhere, so it never reaches S10: a
    default phrase with "stop" would be dead weight."""
    assert not any("stop" in p.split() for p in DEFAULTS)
    assert rules.keyword_kind("stop texting me please", rules.Policy(opt_out_match="exact")) \
        == "opt_out"


def test_normalising_drops_apostrophes_and_breaks_words_at_punctuation() -> None:
    assert normalise("  Don’t-TEXT,me!! ") == "dont text me"


def test_configured_phrases_replace_the_defaults_and_none_switches_s10_off() -> None:
    own = phrase_list(("Quit messaging me", "quit  messaging me", "go away"))
    assert own == ("quit messaging me", "go away")
    assert opt_out_phrase("Please QUIT messaging me.", own) == "quit messaging me"
    assert opt_out_phrase("don't text me", own) is None
    assert opt_out_phrase("don't text me", phrase_list(())) is None
    assert len(DEFAULTS) == len(DEFAULT_PHRASES)


def test_phrases_in_other_languages_match_with_or_without_their_accents() -> None:
    own = phrase_list(("no me escribas más", "ne m’écrivez plus"))
    assert opt_out_phrase("Por favor, NO me escribas más!!", own) == "no me escribas mas"
    assert opt_out_phrase("por favor no me escribas mas", own) == "no me escribas mas"
    assert opt_out_phrase("Merci. Ne m'ecrivez plus.", own) == "ne mecrivez plus"
    assert opt_out_phrase("no me escribes", own) is None


def test_the_rule_asks_the_policys_phrases() -> None:
    text = sms("hi, please don't text me anymore")
    assert rules.opt_out_request(text, rules.Policy())
    assert not rules.opt_out_request(text, rules.Policy(opt_out_phrases=()))


def test_the_note_names_the_tag_and_how_to_release_replies() -> None:
    note = rules.opt_out_request_note()
    assert OPT_OUT_REQUEST_TAG in note and "Klaviyo" in note and "S10" in note
    assert note == rules.opt_out_request_note()      # the same text each time (notes.py dedup)


# --- settings ----------------------------------------------------------------------------------
def test_unset_phrases_mean_the_defaults() -> None:
    assert Settings.from_env(SANDBOX).sms_opt_out_phrases is None


def test_phrases_are_split_at_commas_and_newlines() -> None:
    env = {**SANDBOX, "SMS_OPT_OUT_PHRASES": "go away, quit it\nno thanks,,"}
    assert Settings.from_env(env).sms_opt_out_phrases == ("go away", "quit it", "no thanks")


def test_none_switches_the_phrases_off() -> None:
    assert Settings.from_env({**SANDBOX, "SMS_OPT_OUT_PHRASES": "None"}).sms_opt_out_phrases \
        == ()


@pytest.mark.parametrize("raw", ["!!!, go away", ",, ,", "x" * 101])
def test_a_phrase_list_without_usable_phrases_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**SANDBOX, "SMS_OPT_OUT_PHRASES": raw})
    assert "SMS_OPT_OUT_PHRASES" in str(err.value)


# --- /metrics -----------------------------------------------------------------------------------
def test_opt_out_requests_are_a_counter_on_metrics_from_the_first_scrape() -> None:
    r = fakeredis.FakeRedis()
    assert scrape(r)["zkb_opt_out_requests_total"] == {(("brand", "default"),): 0}
    for _ in range(2):      # what the runner records for a text applied with reason S10
        Outcomes(r).record_outcome("inbound_sms", "processed", "opt_out_request", latency=0.1)
    Outcomes(r).record_outcome("inbound_sms", "processed", "", latency=0.1)
    assert scrape(r)["zkb_opt_out_requests_total"] == {(("brand", "default"),): 2}
    assert scrape(r)["zkb_jobs_processed_total"] == {
        (("brand", "default"), ("kind", "inbound_sms"), ("task", "bridge.inbound_sms")): 3}
