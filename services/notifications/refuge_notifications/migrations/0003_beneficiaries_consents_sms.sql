-- Issue 5, the beneficiary side: contacts, consents, per-organisation policy and SMS
-- providers, and what the delivery log needs for SMS (provider ids, receipts, suppression).

-- Offices' time zones: a beneficiary without a zone of their own is reminded in their office's.
CREATE TABLE offices (
    office_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    timezone  text NOT NULL
);

-- Beneficiary contact read-model (refuge.persons.v1). personal_data is the sealed copy as
-- received (never opened into a column); phone_hash is HMAC-SHA256(secret, E.164 phone),
-- the only way to recognise who replied STOP. person.erased deletes the row.
CREATE TABLE person_contacts (
    person_id          uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    preferred_language text,
    timezone           text,
    personal_data      jsonb,
    phone_hash         bytea,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX person_contacts_phone ON person_contacts (tenant_id, phone_hash) WHERE phone_hash IS NOT NULL;

-- case.opened: which person and office a case is about (reminders name the case).
CREATE TABLE case_persons (
    case_id   uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    person_id uuid,
    office_id uuid
);
CREATE INDEX case_persons_person ON case_persons (person_id);

-- Consent per person and channel: the latest recorded_at wins (a withdrawal on a tie).
-- source: case_event (case.consent_recorded), stop_reply (SMS "STOP"), unsubscribe_link.
CREATE TABLE consents (
    person_id   uuid NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('sms', 'email')),
    tenant_id   uuid NOT NULL,
    given       boolean NOT NULL,
    recorded_at timestamptz NOT NULL,
    source      text NOT NULL,
    case_id     uuid,
    PRIMARY KEY (person_id, channel)
);

-- Per-organisation overrides of the default policy (domain/policy.py).
CREATE TABLE notification_policies (
    tenant_id      uuid NOT NULL,
    trigger_name   text NOT NULL,
    recipient_kind text NOT NULL,
    channel        text NOT NULL,
    enabled        boolean NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, trigger_name, recipient_kind, channel)
);

-- One data key per organisation, wrapped by the master key, sealing its provider credentials.
CREATE TABLE organisation_keys (
    tenant_id   uuid PRIMARY KEY,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The organisation's SMS provider: settings in clear (URL, account SID, sender), credentials
-- (auth token, bearer token, inbound secret) sealed under the organisation's key.
CREATE TABLE sms_providers (
    tenant_id   uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('webhook', 'twilio')),
    settings    jsonb NOT NULL,
    credentials jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

SELECT isolate_tenant(t) FROM unnest(ARRAY['offices', 'person_contacts', 'case_persons', 'consents',
    'notification_policies', 'organisation_keys', 'sms_providers']::regclass[]) AS t;

-- The delivery log gains: 'suppressed' (not sent: no consent, opted out, erased), the
-- provider and its message id (to match delivery receipts), the receipt, the language.
ALTER TABLE deliveries ADD COLUMN provider text;
ALTER TABLE deliveries ADD COLUMN provider_message_id text;
ALTER TABLE deliveries ADD COLUMN receipt text;
ALTER TABLE deliveries ADD COLUMN receipt_at timestamptz;
ALTER TABLE deliveries ADD COLUMN language text;
CREATE INDEX deliveries_provider_message ON deliveries (tenant_id, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX deliveries_open_by_recipient ON deliveries (recipient_id, channel)
    WHERE status IN ('pending', 'claimed');
