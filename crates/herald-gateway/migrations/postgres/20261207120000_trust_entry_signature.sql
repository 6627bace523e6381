-- herald federation gateway, PostgreSQL: the operator's signature over the whole trust-list entry
-- (issue 14, finding 5). Forward-only; the same in sqlite/.
--
-- `operator_signature` (EFGS's) covers only `certificate_pem`; `entry_signature` covers the
-- country, kind, thumbprint, revocation flag and host (herald_trust::TrustEntry::signed_fields),
-- standard Base64, made with the same trust-anchor key. Rows stored before this migration have
-- none (NULL): the gateway refuses them, with a log line naming the command, until the operator
-- signs them with `herald gateway trust resign --anchor-key <KEY>` (or imports a list made by
-- `herald gateway trust sign`).
ALTER TABLE trust_entry ADD COLUMN entry_signature TEXT;
