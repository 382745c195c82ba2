from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from refuge_common.auth.principal import Role
from refuge_intake.domain import api_keys
from refuge_intake.entrypoints.http_auth import VerifiedKeys

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _stored(key: api_keys.NewApiKey, **changes: object) -> api_keys.StoredApiKey:
    values: dict[str, object] = {
        "key_id": key.key_id,
        "tenant_id": uuid.uuid4(),
        "secret_hash": key.secret_hash,
        "role": Role.CASEWORKER,
        "office_id": None,
        "staff_id": None,
        "expires_at": None,
        "revoked_at": None,
        **changes,
    }
    return api_keys.StoredApiKey(**values)  # type: ignore[arg-type]


def test_a_key_is_shown_once_and_only_its_hash_is_kept() -> None:
    key = api_keys.generate()
    assert api_keys.parse(key.token) == (key.key_id, key.secret)
    assert key.secret.encode() not in key.secret_hash


def test_only_the_right_secret_of_a_live_key_is_admitted() -> None:
    key = api_keys.generate()
    assert _stored(key).admits(key.secret, NOW)
    assert not _stored(key).admits(api_keys.generate().secret, NOW)
    assert not _stored(key, revoked_at=NOW - timedelta(seconds=1)).admits(key.secret, NOW)
    assert not _stored(key, expires_at=NOW).admits(key.secret, NOW)
    assert _stored(key, expires_at=NOW + timedelta(days=1)).admits(key.secret, NOW)


def test_strings_that_are_not_keys() -> None:
    for text in ["", "rfg_", "rfg_abc", "xyz_abc_def", "rfg__secret", "eyJhbGciOi.x.y"]:
        assert api_keys.parse(text) is None


def test_a_kept_key_gives_its_writer_to_its_own_secret_only() -> None:
    key, other = api_keys.generate(), api_keys.generate()
    stored = _stored(key)
    kept = VerifiedKeys()
    kept.keep(stored)

    writer = kept.writer(key.key_id, key.secret)
    assert writer is not None
    assert (writer.principal.key_id, writer.principal.organisation_id) == (key.key_id, stored.tenant_id)
    assert writer.key_check == f"SELECT require_usable_key('{key.key_id}', '{stored.tenant_id}')"
    assert kept.writer(key.key_id, other.secret) is None
    assert kept.writer(other.key_id, other.secret) is None
    kept.forget(key.key_id)
    assert kept.writer(key.key_id, key.secret) is None
