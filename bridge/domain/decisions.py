"""Decisions returned by the rules: data, so tests assert on them and handlers apply them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drop:
    """Do nothing upstream; count the event under `reason`."""

    reason: str


@dataclass(frozen=True)
class CreateTicket:
    """Open a new ticket for the conversation; `followup_of` links it to a closed ticket (S4).

    `follows_solved` names a solved ticket the text did not reopen (S11): Zendesk links
    follow-ups only to closed tickets, so it is named in an internal note instead."""

    followup_of: int | None = None
    follows_solved: int | None = None


@dataclass(frozen=True)
class AddComment:
    """Comment on the current ticket; `status` None keeps it (on hold), else sets it (reopen)."""

    ticket_id: int
    status: str | None


InboundDecision = Drop | CreateTicket | AddComment
