"""Persons over HTTP: register, read (audited), update, erase."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from refuge_common.contract.vocabulary import AgeBand, Gender
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_intake.adapters.person_store import StoredPerson
from refuge_intake.domain.persons import Person
from refuge_intake.entrypoints.http_auth import CurrentPrincipal
from refuge_intake.entrypoints.http_idempotency import Once, answered
from refuge_intake.entrypoints.http_refusals import refused
from refuge_intake.entrypoints.http_text import StorableModel
from refuge_intake.service_layer import idempotency, persons
from refuge_intake.service_layer.errors import Forbidden, Gone, NotFound, Rejected
from refuge_intake.service_layer.idempotency import Answer

router = APIRouter(tags=["persons"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller's role may not do this"},
    404: {"description": "no such person visible to the caller"},
    410: {"description": "the person was erased; nothing of them is returned"},
    422: {"description": "invalid field (the message names it)"},
}


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AddressLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PostalAddress(StorableModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[AddressLine] = Field(min_length=1, max_length=4, description="street, building, ...")
    postal_code: PostalCode | None = None
    city: City
    country: str = Field(max_length=2, description="ISO 3166-1 alpha-2")


class PersonFields(StorableModel):
    """Every field a caseworker may give; on PATCH, those present are changed (null clears)."""

    model_config = ConfigDict(extra="forbid")

    given_name: Name | None = None
    family_name: Name | None = Field(default=None, description="at least one of the two names")
    birth_date: date | None = None
    birth_year: int | None = Field(default=None, description="when only the year is known")
    gender: Gender = Gender.NOT_STATED
    nationalities: list[Annotated[str, Field(max_length=2)]] = Field(
        default_factory=list, max_length=10, description="ISO 3166-1 alpha-2 codes"
    )
    stateless: bool | None = None
    unaccompanied_minor: bool | None = Field(
        default=None, description="a minor without a parent or guardian in the country (MNA, UAC)"
    )
    languages: list[Annotated[str, Field(max_length=35)]] = Field(
        default_factory=list, max_length=20, description="BCP 47 tags known to CLDR: fr, ar-SY, fa-AF"
    )
    preferred_language: str | None = Field(default=None, max_length=35, description="for messages")
    phone: str | None = Field(
        default=None,
        max_length=40,
        description="normalised to E.164; national numbers read in the office's region",
    )
    email: str | None = Field(default=None, max_length=320)
    timezone: str | None = Field(default=None, max_length=64, description="IANA name, e.g. Europe/Paris")
    address: PostalAddress | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"office_id"})


class RegisterPerson(PersonFields):
    office_id: UUID | None = Field(default=None, description="defaults to the caller's office")


class PersonSummary(BaseModel):
    """What is kept in clear: the id and the coarse attributes."""

    person_id: UUID
    office_id: UUID
    gender: Gender
    nationalities: list[str]
    stateless: bool | None
    unaccompanied_minor: bool | None
    age_band: AgeBand | None
    languages: list[str]
    preferred_language: str | None
    timezone: str | None

    @classmethod
    def of(cls, stored: StoredPerson) -> PersonSummary:
        return cls(**{name: getattr(stored, name) for name in cls.model_fields})


class PersonView(PersonSummary):
    """The full record, opened with the person's key."""

    given_name: str | None
    family_name: str | None
    birth_date: date | None
    birth_year: int | None
    phone: str | None
    email: str | None
    address: PostalAddress | None
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def of_person(cls, stored: StoredPerson, person: Person) -> PersonView:
        return cls(
            **PersonSummary.of(stored).model_dump(),
            given_name=person.given_name,
            family_name=person.family_name,
            birth_date=person.birth_date,
            birth_year=person.birth_year,
            phone=person.phone,
            email=person.email,
            address=PostalAddress(**person.address.as_json()) if person.address else None,
            registered_at=stored.registered_at,
            updated_at=stored.updated_at,
        )


def _services(request: Request) -> tuple[Any, Keyring]:
    return request.app.state.pool(), request.app.state.keyring


REFUSALS = (Forbidden, NotFound, Gone, Rejected)


@router.post(
    "/persons",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonSummary,
    responses=RESPONSES,
    summary="Register a person (identifying details are sealed under their own key)",
)
async def register_person(
    body: RegisterPerson, request: Request, principal: CurrentPrincipal, once: Once
) -> JSONResponse:
    pool, keyring = _services(request)

    async def write(connection: Connection) -> Answer:
        stored = await persons.register_person_in(
            connection, keyring, principal, office_id=body.office_id, changes=body.changes()
        )
        return Answer(status.HTTP_201_CREATED, PersonSummary.of(stored).model_dump(mode="json"))

    try:
        answer = await idempotency.run_once(pool, keyring, principal, once, write)
    except REFUSALS as error:
        raise refused(error) from error
    return answered(answer)


@router.get(
    "/persons/{person_id}",
    response_model=PersonView,
    responses=RESPONSES,
    summary="A person's full record (the read is audited)",
)
async def get_person(person_id: UUID, request: Request, principal: CurrentPrincipal) -> PersonView:
    pool, keyring = _services(request)
    try:
        stored, person = await persons.read_person(pool, keyring, principal, person_id)
    except REFUSALS as error:
        raise refused(error) from error
    return PersonView.of_person(stored, person)


@router.patch(
    "/persons/{person_id}",
    response_model=PersonView,
    responses=RESPONSES,
    summary="Change some fields of a person (null clears one); emits person.updated",
)
async def update_person(
    person_id: UUID, body: PersonFields, request: Request, principal: CurrentPrincipal, once: Once
) -> JSONResponse:
    pool, keyring = _services(request)

    async def write(connection: Connection) -> Answer:
        stored, person = await persons.update_person_in(
            connection, keyring, principal, person_id, body.changes()
        )
        view = PersonView.of_person(stored, person).model_dump(mode="json")
        # The answer is the person's record: its Idempotency-Key copy is sealed under their key.
        return Answer(status.HTTP_200_OK, view, personal_data_of=person_id)

    try:
        answer = await idempotency.run_once(pool, keyring, principal, once, write)
    except REFUSALS as error:
        raise refused(error) from error
    return answered(answer)


@router.delete(
    "/persons/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=RESPONSES,
    summary="Erase a person: their key is destroyed (coordinator or org admin)",
)
async def erase_person(person_id: UUID, request: Request, principal: CurrentPrincipal) -> Response:
    pool, keyring = _services(request)
    try:
        await persons.erase_person(pool, keyring, principal, person_id)
    except REFUSALS as error:
        raise refused(error) from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)
