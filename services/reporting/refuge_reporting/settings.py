from pydantic import Field

from refuge_common.settings import PlatformSettings


class ReportingSettings(PlatformSettings):
    reporting_port: int = Field(default=8004, description="Reporting's HTTP port.")
