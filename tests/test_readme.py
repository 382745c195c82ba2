"""README.md stays true: every setting a service reads is documented there."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from refuge_common.settings import PlatformSettings
from refuge_deadlines.settings import DeadlinesSettings
from refuge_intake.settings import IntakeSettings
from refuge_notifications.settings import NotificationsSettings
from refuge_reporting.settings import ReportingSettings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize(
    "settings",
    [PlatformSettings, IntakeSettings, DeadlinesSettings, NotificationsSettings, ReportingSettings],
)
def test_every_setting_is_documented_in_the_readme(settings: type[BaseSettings]) -> None:
    missing = [
        str(field.validation_alias or name).upper()
        for name, field in settings.model_fields.items()
        if str(field.validation_alias or name).upper() not in README
    ]
    assert not missing, f"document these environment variables in README.md: {missing}"


def test_readme_names_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
