"""Rules that the pages and the CLI share: creating users, hypervisors and VMs, and submitting VM actions.

Each function takes the actor, validates what the database must decide (uniqueness), writes the audit row and
raises Refused with a message for the person when the request cannot be done.
"""

from __future__ import annotations


class Refused(ValueError):
    """A request the rules turn down; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
