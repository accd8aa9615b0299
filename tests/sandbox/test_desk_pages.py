"""The desk behaves as Zendesk's agent app where the bridge can tell, and the sandbox's pages
show what it recorded: an agent's public reply opens a new ticket; the home page links to a
readable list of the Klaviyo events and to the rules its hints name."""

from __future__ import annotations

import re

import requests
from zendesk_support import ANA_ID, stack_fixtures

stack_server, stack = stack_fixtures()


def test_an_agents_public_reply_moves_a_new_ticket_to_open(stack):
    t = stack.new_ticket()
    assert t["status"] == "new"
    r = stack.admin("POST", f"/zendesk/tickets/{t['id']}/comments",
                    json={"body": "On its way!", "author_id": ANA_ID})
    assert r.status_code == 201 and r.json()["ticket"]["status"] == "open"


def test_an_internal_note_or_an_explicit_status_leaves_the_choice_to_the_agent(stack):
    noted, pending = stack.new_ticket(), stack.new_ticket()
    r = stack.admin("POST", f"/zendesk/tickets/{noted['id']}/comments",
                    json={"body": "check stock", "public": False, "author_id": ANA_ID})
    assert r.json()["ticket"]["status"] == "new"
    r = stack.admin("POST", f"/zendesk/tickets/{pending['id']}/comments",
                    json={"body": "Which size?", "author_id": ANA_ID, "status": "pending"})
    assert r.json()["ticket"]["status"] == "pending"


def test_the_desk_lists_every_ticket_or_only_those_with_an_external_id(stack):
    mine = stack.new_ticket(external_id="zkb-sms:+15005550100:+15005550000")
    other = stack.new_ticket()
    listed = stack.admin("GET", "/zendesk/tickets").json()["tickets"]
    assert {mine["id"], other["id"]} <= {t["id"] for t in listed}
    only = stack.admin("GET", "/zendesk/tickets",
                       params={"external_id": "zkb-sms:+15005550100:+15005550000"}).json()
    assert [t["id"] for t in only["tickets"]] == [mine["id"]]
    assert only["tickets"][0]["comments"][0]["body"] == "Where is my order?"


def test_the_home_page_links_the_events_page_and_the_rules(stack):
    home = requests.get(f"{stack.base}/", timeout=5).text
    assert 'href="/events"' in home and 'href="/rules"' in home
    events = requests.get(f"{stack.base}/events", timeout=5)
    assert events.status_code == 200 and "events.js" in events.text


def test_every_rule_a_hint_names_is_an_anchor_on_the_rules_page(stack):
    rules = requests.get(f"{stack.base}/rules", timeout=5).text
    anchors = set(re.findall(r'<h3 id="([SAME]\d+)"', rules))
    assert {f"S{i}" for i in range(1, 12)} | {f"A{i}" for i in range(1, 10)} | {
        f"M{i}" for i in range(1, 6)} | {f"E{i}" for i in range(1, 8)} == anchors
    for page in ("/", "/phone", "/desk"):
        linked = set(re.findall(r'href="/rules#([SAME]\d+)"',
                                requests.get(f"{stack.base}{page}", timeout=5).text))
        assert linked <= anchors, page
