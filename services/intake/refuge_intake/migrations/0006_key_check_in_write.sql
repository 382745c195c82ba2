-- A write whose API key intake has already verified (its secret's hash, role, office and
-- organisation never change for a key id) confirms in its own transaction, in the
-- round trip that begins it, that the key is still neither revoked nor expired: a
-- revoked key writes nothing from its revocation's commit on, without a lookup of its
-- own per request. Owned by the schema owner like authenticate_api_key; it answers
-- nothing about a key, it only refuses (SQLSTATE 28000) and so aborts the transaction.
CREATE FUNCTION require_usable_key(p_key_id text, p_tenant_id uuid)
RETURNS void LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    PERFORM 1 FROM intake.api_keys k
    WHERE k.key_id = p_key_id AND k.tenant_id = p_tenant_id AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown, expired or revoked API key'
            USING ERRCODE = 'invalid_authorization_specification';
    END IF;
END $$;
