"""Loading and validating rule packs (``refuge_deadlines/rules/<name>.toml``).

Schema (version 1)::

    schema = 1
    jurisdiction = "FR"                       # ISO 3166 country the pack covers
    regimes = ["ordinary", "detention"]       # every regime a decision may carry

    [decisions.oqtf]                          # every decision the jurisdiction knows
    regimes = ["ordinary", "detention"]       # optional, subset of the pack's regimes
    regime_required = true                    # optional; then every regime needs a rule

    [[rule]]
    id = "fr.ceseda.l911-1.oqtf_ordinary"     # "<jurisdiction>." prefix, unique
    purpose = "appeal"                        # one of the contract's purposes
    counting = "franc"                        # franc | non_franc | hour_to_hour
                                              # | calendar_us | calendar
                                              # | backward | backward_calendar | backward_opening
    legal_basis = "..."                       # the text that sets the delay
    checked_against = "..."                   # the source it was checked against
    in_force_from = 2024-07-15                # optional: triggers from that date
    trigger = { decision = "oqtf", regime = ["ordinary"] }   # regime optional
    duration = { amount = 1, unit = "months" }               # hours | days | months | years
    alternative = { reason = "...", counting = "franc" }     # optional; counting optional
    supersedes = ["fr.other.rule"]            # optional: rules whose open deadlines it replaces
    restarts = true                           # optional (detention rules): see rules.Rule

Triggers other than a decision name their event::

    trigger = { event = "case.detention_started", detention = ["administrative"] }
    trigger = { event = "case.permit_recorded" }     # counting must be backward*
    trigger = { event = "case.arrival_recorded" }    # a date: no hour_to_hour

Any unknown key, missing key or wrong type is a :class:`RulePackError` naming the file, the
rule and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import cast

from .errors import RulePackError
from .rules import (
    ARRIVAL_EVENT,
    BACKWARD_COUNTINGS,
    COMING_OF_AGE_EVENT,
    COUNTINGS,
    DECISION_EVENT,
    DETENTION_EVENT,
    DETENTION_KINDS,
    PERMIT_EVENT,
    PURPOSES,
    TRIGGER_EVENTS,
    UNITS,
    Alternative,
    Counting,
    DecisionType,
    Duration,
    Purpose,
    Rule,
    RulePack,
    Trigger,
    Unit,
)

SCHEMA_VERSION = 1
_RULE_ID = re.compile(r"^[a-z]{2}(\.[a-z0-9_-]+)+$")
_PACKAGE = "refuge_deadlines.rules"


class _Table:
    """A TOML table being read, with the path used in error messages."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise RulePackError(f"{where}: expected a table, got {type(data).__name__}")
        self.data = cast(dict[str, object], data)
        self.where = where

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.data) - set(allowed))
        if unknown:
            raise RulePackError(f"{self.where}: unknown key(s) {', '.join(unknown)}")

    def _get(self, key: str, kind: type | tuple[type, ...], name: str) -> object:
        if key not in self.data:
            raise RulePackError(f"{self.where}.{key}: missing")
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise RulePackError(f"{self.where}.{key}: expected {name}, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = cast(str, self._get(key, str, "a string")).strip()
        if not value:
            raise RulePackError(f"{self.where}.{key}: must not be empty")
        return value

    def choice(self, key: str, choices: frozenset[str]) -> str:
        value = self.text(key)
        if value not in choices:
            raise RulePackError(f"{self.where}.{key}: {value!r} is not one of {', '.join(sorted(choices))}")
        return value

    def positive_int(self, key: str) -> int:
        value = cast(int, self._get(key, int, "an integer"))
        if value <= 0:
            raise RulePackError(f"{self.where}.{key}: must be positive, got {value}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        return default if key not in self.data else cast(bool, self._get(key, bool, "a boolean"))

    def names(self, key: str, allowed: frozenset[str] | None = None) -> frozenset[str]:
        """A list of strings (empty when absent), each in ``allowed`` when given."""
        if key not in self.data:
            return frozenset()
        values = cast(list[object], self._get(key, list, "a list of strings"))
        if not all(isinstance(v, str) and v for v in values):
            raise RulePackError(f"{self.where}.{key}: expected a list of non-empty strings")
        names = frozenset(cast(list[str], values))
        if allowed is not None and not names <= allowed:
            raise RulePackError(
                f"{self.where}.{key}: unknown {', '.join(sorted(names - allowed))} "
                f"(known: {', '.join(sorted(allowed)) or 'none'})"
            )
        return names

    def table(self, key: str) -> _Table:
        return _Table(self._get(key, dict, "a table"), f"{self.where}.{key}")


def parse_pack(data: Mapping[str, object], source: str) -> RulePack:
    """Validate the parsed TOML of a pack and build the :class:`RulePack`."""
    top = _Table(dict(data), source)
    top.only("schema", "jurisdiction", "regimes", "decisions", "rule")
    if top.data.get("schema") != SCHEMA_VERSION:
        raise RulePackError(f"{source}.schema: expected {SCHEMA_VERSION}")
    jurisdiction = top.text("jurisdiction")
    all_regimes = top.names("regimes")
    decisions = _decisions(top.table("decisions"), all_regimes)
    raw_rules = top.data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulePackError(f"{source}.rule: expected at least one [[rule]] table")
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        rule = _rule(_Table(raw, f"{source}.rule[{index}]"), jurisdiction, decisions)
        if any(r.id == rule.id for r in rules):
            raise RulePackError(f"{source}.rule[{index}].id: duplicate id {rule.id!r}")
        rules.append(rule)
    pack = RulePack(jurisdiction, source, all_regimes, decisions, tuple(rules))
    _check_supersedes(pack)
    _check_coverage(pack)
    return pack


def _decisions(table: _Table, all_regimes: frozenset[str]) -> Mapping[str, DecisionType]:
    decisions: dict[str, DecisionType] = {}
    for name in table.data:
        entry = table.table(name)
        entry.only("regimes", "regime_required", "description")
        if "description" in entry.data:
            entry.text("description")
        regimes = entry.names("regimes", all_regimes)
        required = entry.flag("regime_required", False)
        if required and not regimes:
            raise RulePackError(f"{entry.where}.regime_required: the decision has no regimes")
        decisions[name] = DecisionType(name, regimes, required)
    if not decisions:
        raise RulePackError(f"{table.where}: no decision declared")
    return MappingProxyType(decisions)


def _rule(table: _Table, jurisdiction: str, decisions: Mapping[str, DecisionType]) -> Rule:
    table.only(
        "id",
        "purpose",
        "counting",
        "legal_basis",
        "checked_against",
        "in_force_from",
        "trigger",
        "duration",
        "alternative",
        "supersedes",
        "restarts",
    )
    rule_id = table.text("id")
    if not _RULE_ID.match(rule_id) or not rule_id.startswith(jurisdiction.lower() + "."):
        raise RulePackError(
            f"{table.where}.id: {rule_id!r} must look like '{jurisdiction.lower()}.<source>.<name>'"
        )
    table.where = f"{table.where} ({rule_id})"
    counting = cast(Counting, table.choice("counting", COUNTINGS))
    duration = _duration(table.table("duration"))
    _check_counting(table.where + ".counting", counting, duration.unit)
    alternative = None
    if "alternative" in table.data:
        alt = table.table("alternative")
        alt.only("reason", "counting")
        alt_counting = None
        if "counting" in alt.data:
            alt_counting = cast(Counting, alt.choice("counting", COUNTINGS))
            _check_counting(alt.where + ".counting", alt_counting, duration.unit)
            if alt_counting == counting:
                raise RulePackError(f"{alt.where}.counting: same as the rule's counting")
        alternative = Alternative(alt.text("reason"), alt_counting)
    in_force_from = None
    if "in_force_from" in table.data:
        value = table.data["in_force_from"]
        if not isinstance(value, date) or isinstance(value, datetime):
            raise RulePackError(f"{table.where}.in_force_from: expected a date (YYYY-MM-DD)")
        in_force_from = value
    trigger = _trigger(table.table("trigger"), decisions)
    _check_anchor(table.where, trigger.event, counting)
    supersedes = table.names("supersedes")
    restarts = table.flag("restarts", False)
    if restarts != (trigger.event == DETENTION_EVENT):
        raise RulePackError(
            f"{table.where}.restarts: a {DETENTION_EVENT} rule, and only it, restarts open windows "
            "(a detention alone opens no delay)"
        )
    if restarts and not supersedes:
        raise RulePackError(f"{table.where}.supersedes: a rule that restarts windows must name them")
    return Rule(
        id=rule_id,
        trigger=trigger,
        purpose=cast(Purpose, table.choice("purpose", PURPOSES)),
        duration=duration,
        counting=counting,
        legal_basis=table.text("legal_basis"),
        checked_against=table.text("checked_against"),
        alternative=alternative,
        in_force_from=in_force_from,
        supersedes=supersedes,
        restarts=restarts,
    )


def _duration(table: _Table) -> Duration:
    table.only("amount", "unit")
    return Duration(table.positive_int("amount"), cast(Unit, table.choice("unit", UNITS)))


def _check_counting(where: str, counting: str, unit: str) -> None:
    if (counting == "hour_to_hour") != (unit == "hours"):
        raise RulePackError(
            f"{where}: {counting!r} cannot count a delay in {unit} "
            "(hours run hour_to_hour; days, months and years by date)"
        )


def _check_anchor(where: str, event: str, counting: str) -> None:
    """Backward countings run from a permit's expiry; dates (permit, arrival) have no hour."""
    if (counting in BACKWARD_COUNTINGS) != (event == PERMIT_EVENT):
        raise RulePackError(
            f"{where}.counting: {counting!r} with a {event} trigger "
            f"(backward countings, and only they, count back from a permit's expiry)"
        )
    if counting == "hour_to_hour" and event in (ARRIVAL_EVENT, COMING_OF_AGE_EVENT):
        raise RulePackError(f"{where}.counting: {event} gives a date; it cannot count hours")


def _trigger(table: _Table, decisions: Mapping[str, DecisionType]) -> Trigger:
    table.only("event", "decision", "regime", "detention")
    event = table.choice("event", TRIGGER_EVENTS) if "event" in table.data else DECISION_EVENT
    if event != DECISION_EVENT:
        misplaced = sorted({"decision", "regime"} & set(table.data))
        if misplaced:
            raise RulePackError(f"{table.where}: {', '.join(misplaced)} only with a {DECISION_EVENT} trigger")
        if event != DETENTION_EVENT:
            table.only("event")
            return Trigger(event=event)
        detention = table.names("detention", DETENTION_KINDS)
        if not detention:
            raise RulePackError(f"{table.where}.detention: missing or empty (the kinds of detention)")
        return Trigger(event=event, detention=detention)
    table.only("event", "decision", "regime")
    decision = table.choice("decision", frozenset(decisions))
    regimes = None
    if "regime" in table.data:
        regimes = table.names("regime", decisions[decision].regimes)
        if not regimes:
            raise RulePackError(f"{table.where}.regime: must not be empty (omit it instead)")
    return Trigger(decision, regimes, event)


def _check_supersedes(pack: RulePack) -> None:
    """Every rule a rule supersedes exists in the same pack."""
    ids = {rule.id for rule in pack.rules}
    for rule in pack.rules:
        unknown = sorted(rule.supersedes - ids)
        if unknown:
            raise RulePackError(
                f"{pack.source}.rule ({rule.id}).supersedes: unknown rule(s) {', '.join(unknown)}"
            )


def _check_coverage(pack: RulePack) -> None:
    """A decision that needs a regime must open a deadline under every one of its regimes."""
    for decision in pack.decisions.values():
        if not decision.regime_required:
            continue
        for regime in sorted(decision.regimes):
            if not any(r.trigger.matches(decision.name, regime) for r in pack.rules):
                raise RulePackError(f"{pack.source}.decisions.{decision.name}: no rule for regime {regime!r}")


@cache
def load_pack(name: str) -> RulePack:
    """Read and validate ``refuge_deadlines/rules/<name>.toml`` (cached)."""
    filename = f"{name}.toml"
    try:
        text = resources.files(_PACKAGE).joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RulePackError(f"{filename}: no such rule pack in {_PACKAGE}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulePackError(f"{filename}: not valid TOML: {exc}") from exc
    pack = parse_pack(data, filename)
    if pack.jurisdiction.lower() != name:
        raise RulePackError(f"{filename}.jurisdiction: {pack.jurisdiction!r} does not match")
    return pack
