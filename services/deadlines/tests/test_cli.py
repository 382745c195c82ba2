"""``refuge-deadlines compute`` and ``rules``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

DECISION = {
    "specversion": "1.0",
    "type": "org.refuge.case.decision_notified.v1",
    "source": "/refuge/intake",
    "id": "e-1",
    "subject": "6f1d3c9e-8a52-4c1e-9b7a-3f0e2d4c5b61",
    "data": {
        "case_id": "6f1d3c9e-8a52-4c1e-9b7a-3f0e2d4c5b61",
        "jurisdiction": "FR",
        "decision": "oqtf",
        "regime": "ordinary",
        "notified_at": "2026-03-06T10:30:00+01:00",
        "timezone": "Europe/Paris",
    },
}


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refuge_deadlines", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compute_prints_the_deadlines_of_a_decision() -> None:
    result = _run("compute", stdin=json.dumps(DECISION))
    assert result.returncode == 0, result.stderr
    [deadline] = json.loads(result.stdout)["deadlines"]
    # DESIGN.md's example: notified 6 March, in time until 7 April 23:59:59 Paris time.
    assert deadline == {
        "purpose": "appeal",
        "rule": "fr.ceseda.l911-1.oqtf_ordinary",
        "due": "2026-04-07T23:59:59+02:00",
        "timezone": "Europe/Paris",
        "legal_basis": deadline["legal_basis"],
        "alternative": None,
    }
    assert "L.911-1" in deadline["legal_basis"]


def test_compute_names_what_is_wrong_and_exits_non_zero() -> None:
    bad = {**DECISION, "data": {**DECISION["data"], "decision": "deportation"}}  # type: ignore[dict-item]
    del bad["data"]["notified_at"]  # type: ignore[attr-defined]
    result = _run("compute", stdin=json.dumps(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert "data.decision" in result.stderr and "data.notified_at" in result.stderr
    assert _run("compute", stdin="{not json").returncode == 2
    wrong_type = _run("compute", stdin=json.dumps({**DECISION, "type": "org.refuge.case.opened.v1"}))
    assert wrong_type.returncode == 2 and "decision_notified" in wrong_type.stderr


def test_rules_lists_every_pack_in_a_table() -> None:
    result = _run("rules")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["pack", "rule", "trigger"]
    assert any("fr.ceseda.l911-1.oqtf_ordinary" in line and "1 months" in line for line in lines)
    assert any(line.startswith("US") and "us.8cfr.1003.38.bia_appeal" in line for line in lines)
