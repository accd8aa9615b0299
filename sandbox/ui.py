"""The sandbox's web UI: a landing page, a customer's phone and an agent desk.

The pages are shells rendered from seed data and config; everything that changes (profiles and
consent, texts, tickets, webhook deliveries) is read and written by small vanilla-JS files in
`static/` through the admin API (docs/sandbox-admin.md), the same surface tests use. So the UI
never reaches into vendor state and cannot show something the API would not.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for

from sandbox import rules_page, seed


def make_blueprint(sb: Any) -> Blueprint:
    bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/_sandbox/ui-static")

    def page(template: str, **extra: Any) -> str:
        """A page with the seed data (the first Klaviyo account's, unless `extra` says)."""
        agents = [a for a in seed.AGENTS if a.role in ("agent", "admin")
                  and a.email != sb.config.zendesk_email]  # the API user is not a desk agent
        return render_template(template, **{
            "profiles": seed.PROFILES, "brand_numbers": seed.BRAND_NUMBERS, "agents": agents,
            "groups": seed.GROUPS, **extra})

    @bp.get("/")
    def index() -> str:
        return page("index.html", config=sb.config)

    @bp.get("/phone")
    def phone() -> str:
        """A customer's phone, as a customer of the shop `?account=` names (rule E7: acme, the
        default, or bolt; one person may be a customer of both with one phone)."""
        account = _account()
        return page("phone.html", profiles=account.profiles, brand_numbers=account.brand_numbers,
                    account=account, accounts=seed.ACCOUNTS)

    @bp.get("/desk")
    def desk() -> str:
        return page("desk.html")

    @bp.get("/events")
    def events() -> str:
        """The Klaviyo events recorded (Opened/Resolved Ticket, ...) in the account `?account=`
        names (E7), as a table."""
        return page("events.html", account=_account(), accounts=seed.ACCOUNTS)

    @bp.get("/rules")
    def rules() -> str:
        """docs/rules.md, so hints can link to the rule they name (`/rules#A3`)."""
        return page("rules.html", body=rules_page.render())

    @bp.get("/agent/tickets/<int:ticket_id>")
    def agent_ticket(ticket_id: int) -> str:
        """Where Zendesk shows agents a ticket (`<base>/agent/tickets/<id>`, the link the bridge
        puts in events): here, a tiny page that opens the desk on that ticket. Like Zendesk's
        agent app it answers for any id (the desk then simply selects nothing)."""
        return render_template("agent_ticket.html", ticket_id=ticket_id,
                               desk_url=f"{url_for('ui.desk')}#ticket-{ticket_id}")

    return bp


def _account() -> seed.SeedAccount:
    """The seeded Klaviyo account `?account=` names (default: the first); unknown: 404."""
    name = request.args.get("account") or seed.ACCOUNTS[0].name
    found = next((a for a in seed.ACCOUNTS if a.name == name), None)
    if found is None:
        abort(404, f"no Klaviyo account {name!r}")
    return found
