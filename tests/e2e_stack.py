"""The running stack as tests see it: tenants, processes, the mail sink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from refuge_devstack.mail_sink import MailSink, ReceivedMail
from refuge_devstack.processes import ServiceProcess


@dataclass
class Tenant:
    organisation_id: str
    office_id: str
    caseworker_id: str
    caseworker_email: str
    api_key: str


@dataclass
class Stack:
    env: dict[str, str]
    processes: dict[str, ServiceProcess]
    mail: MailSink
    kafka: str
    tenants: list[Tenant] = field(default_factory=list)

    def url(self, service: str) -> str:
        return self.processes[service].url

    def intake_cli(self, *args: str) -> dict[str, Any]:
        """Run ``refuge-intake`` as an operator would and parse its JSON answer."""

        result = subprocess.run(
            [sys.executable, "-m", "refuge_intake", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def onboard(self, name: str, email: str) -> Tenant:
        org = self.intake_cli("org", "create", "--name", name)["organisation_id"]
        office = self.intake_cli(
            "office",
            "create",
            "--org",
            org,
            "--name",
            "Permanence juridique",
            "--kind",
            "drop_in_clinic",
            "--timezone",
            "Europe/Paris",
            "--jurisdiction",
            "FR",
        )["office_id"]
        staff = self.intake_cli(
            "staff",
            "create",
            "--org",
            org,
            "--office",
            office,
            "--role",
            "caseworker",
            "--name",
            "Camille Martin",
            "--email",
            email,
        )["staff_id"]
        key = self.intake_cli(
            "key", "create", "--org", org, "--office", office, "--role", "caseworker", "--staff", staff
        )["api_key"]
        tenant = Tenant(org, office, staff, email, key)
        self.tenants.append(tenant)
        return tenant

    def mail_to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.mail.messages if address in m.envelope_to]

    def restart(self, service: str) -> None:
        old = self.processes[service]
        fresh = ServiceProcess(old.name, old.module, old.port, old.env, old.log_path)
        fresh.start()
        fresh.wait_ready()
        self.processes[service] = fresh


def api(stack: Stack, tenant: Tenant) -> httpx.Client:
    return httpx.Client(
        base_url=stack.url("intake"), timeout=10, headers={"Authorization": f"Bearer {tenant.api_key}"}
    )


def open_case_with_decision(stack: Stack, tenant: Tenant, notified_at: datetime) -> str:
    """A removal appeal case of ``tenant``'s caseworker, with an OQTF (ordinary regime)
    notified at ``notified_at``, through intake's API; its case_id."""

    with api(stack, tenant) as client:
        opened = client.post(
            "/cases",
            json={
                "case_type": "removal_appeal",
                "channel": "in_person",
                "caseworker_id": tenant.caseworker_id,
            },
        )
        assert opened.status_code == 201, opened.text
        case_id: str = opened.json()["case_id"]
        recorded = client.post(
            f"/cases/{case_id}/facts/decision_notified",
            json={"decision": "oqtf", "regime": "ordinary", "notified_at": notified_at.isoformat()},
        )
        assert recorded.status_code == 201, recorded.text
    return case_id
