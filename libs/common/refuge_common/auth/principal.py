"""Who is calling: the claims of a Refuge access token."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from refuge_common.contract.vocabulary import StaffRole

ISSUER = "refuge-intake"
AUDIENCE = "refuge"


# A caller's role is the role of the staff member or system its key was issued to.
Role = StaffRole


@dataclass(frozen=True)
class Principal:
    key_id: str
    organisation_id: UUID
    role: Role
    office_id: UUID | None = None

    def claims(self) -> dict[str, str]:
        claims = {"sub": self.key_id, "org": str(self.organisation_id), "role": self.role.value}
        if self.office_id is not None:
            claims["office"] = str(self.office_id)
        return claims

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> Principal:
        office = claims.get("office")
        return cls(
            key_id=str(claims["sub"]),
            organisation_id=UUID(str(claims["org"])),
            role=Role(str(claims["role"])),
            office_id=UUID(str(office)) if office else None,
        )
