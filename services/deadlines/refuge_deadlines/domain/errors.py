"""Errors of the deadline engine. Every message names the offending field."""

from __future__ import annotations


class UnknownJurisdiction(ValueError):
    """The decision's ``jurisdiction`` has no rule pack or calendar."""


class InvalidDecision(ValueError):
    """A field of the decision is missing, malformed or unknown to the jurisdiction's pack."""


class RulePackError(ValueError):
    """A packaged rule file is unreadable or does not follow the rule-pack schema."""


class InvalidFact(ValueError):
    """A fact of the case is malformed or unknown to its jurisdiction's pack.

    The message starts with ``fact <event id> (<kind>)`` and names the field. Planning a case
    is all-or-nothing: a fact that raises must not be stored with the case's facts.
    """
