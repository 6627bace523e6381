-- mTLS client certificates (spec exchange.md §1): a certificate issued by the CA the operator
-- trusts authenticates the organisation it is registered to, by its SHA-256 thumbprint (of the
-- DER). Registration, not the subject name, decides the organisation, so removing the row
-- revokes the certificate at once, without a CRL.
CREATE TABLE client_cert (
    thumbprint BLOB PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES org (id),
    -- The certificate's subject, for operators' listings.
    subject TEXT NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE INDEX client_cert_org ON client_cert (org_id);
