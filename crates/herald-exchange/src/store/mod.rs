//! Exchange storage: SQLite (the default) or PostgreSQL behind one contract, [`Store`]
//! (spec exchange.md §8; STYLE rules 11, 12).
//!
//! What the store guarantees:
//! - **Objects are kept byte for byte.** `body` is the exact JSON text that was accepted; a
//!   version is stored once (`(collection, id, version)` is unique; a cyber-observable, which has
//!   no `created`/`modified`, has one version per collection).
//! - **`date_added` only grows, in commit order,** per collection: a write takes
//!   `max(last + 1 µs, now)` from the collection's row, which it holds locked until it commits. So
//!   a reader's keyset cursor `(date_added, seq)` never skips a row that commits later, across
//!   instances that share one PostgreSQL.
//! - **TLP is applied in the query** ([`Reader`]): a page holds only what its reader may see,
//!   by the table of spec §4, so that pages cost the same from the first to the last.
//! - **The audit log is a hash chain** whose head row every append locks, so two instances
//!   never fork it; [`Store::verify_audit`] finds any edited, inserted or missing entry.
//! - **No secrets at rest**: API tokens arrive hashed (HMAC under the token key).
//!
//! Queries are written once in `ops/` and compiled for each backend (`sqlite.rs`, `postgres.rs`
//! mount it with `#[path]`).

mod postgres;
mod sqlite;

pub use herald_db::DbError as StoreError;

mod types;
pub use types::*;

herald_db::service_store! {
    /// The exchange's storage.
    pub struct Store;
}

impl Store {
    /// Adds an organisation; `None` when its name or identity is taken.
    pub async fn add_org(&self, org: &NewOrg) -> Result<Option<i64>, StoreError> {
        herald_db::dispatch!(write, &self.pools, add_org, org)
    }

    /// Every organisation, by name.
    pub async fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        herald_db::dispatch!(&self.pools, orgs)
    }

    /// One organisation by name.
    pub async fn org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
        herald_db::dispatch!(&self.pools, org_by_name, name)
    }

    /// The name of the organisation whose STIX identity this is.
    pub async fn org_by_identity(&self, identity: &str) -> Result<Option<String>, StoreError> {
        herald_db::dispatch!(&self.pools, org_by_identity, identity)
    }

    /// Enables or disables an organisation (a disabled one's credentials are refused).
    pub async fn set_org_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, set_org_disabled, name, disabled)
    }

    /// Puts an organisation in a community (created if new).
    pub async fn join_community(&self, community: &str, org: i64) -> Result<(), StoreError> {
        herald_db::dispatch!(write, &self.pools, join_community, community, org)
    }

    /// Adds an API token (its keyed hash); `false` when the organisation has one of that name.
    pub async fn add_token(&self, token: &NewToken) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, add_token, token)
    }

    /// The organisation of a token hash, unless the token is revoked or its organisation disabled.
    pub async fn org_by_token(&self, hash: &[u8; 32]) -> Result<Option<Org>, StoreError> {
        herald_db::dispatch!(&self.pools, org_by_token, hash)
    }

    /// Revokes an organisation's named token.
    pub async fn revoke_token(&self, org: i64, name: &str) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, revoke_token, org, name)
    }

    /// An organisation's API tokens by name (names, dates, revoked; never the hashes).
    pub async fn tokens_of(&self, org: i64) -> Result<Vec<TokenInfo>, StoreError> {
        herald_db::dispatch!(&self.pools, tokens_of, org)
    }

    /// Registers an mTLS client certificate to an organisation; `false` when it is registered
    /// already (to any organisation).
    pub async fn add_client_cert(&self, cert: &NewClientCert) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, add_client_cert, cert)
    }

    /// Removes an organisation's client certificate (it no longer authenticates).
    pub async fn remove_client_cert(
        &self,
        org: i64,
        thumbprint: &[u8; 32],
    ) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, remove_client_cert, org, thumbprint)
    }

    /// An organisation's registered client certificates.
    pub async fn client_certs(&self, org: i64) -> Result<Vec<ClientCert>, StoreError> {
        herald_db::dispatch!(&self.pools, client_certs, org)
    }

    /// The organisation a client certificate is registered to, unless it is disabled.
    pub async fn org_by_cert(&self, thumbprint: &[u8; 32]) -> Result<Option<Org>, StoreError> {
        herald_db::dispatch!(&self.pools, org_by_cert, thumbprint)
    }

    /// Adds a collection at the end of the list; `false` when its id or alias is taken.
    pub async fn add_collection(&self, collection: &NewCollection) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, add_collection, collection)
    }

    /// The id of the collection with this alias (operator tools; no grant needed).
    pub async fn collection_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        herald_db::dispatch!(&self.pools, collection_by_alias, alias)
    }

    /// Sets an organisation's rights on a collection (both false removes the grant).
    pub async fn grant(
        &self,
        collection: &str,
        org: i64,
        grant: Grant,
    ) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, grant, collection, org, grant)
    }

    /// The collections `org` may read or write, in their fixed order, with its rights.
    pub async fn collections_of(&self, org: i64) -> Result<Vec<(Collection, Grant)>, StoreError> {
        herald_db::dispatch!(&self.pools, collections_of, org)
    }

    /// A collection by id or alias, with `org`'s rights on it (`None` when it does not exist
    /// or `org` has no grant: both answer 404).
    pub async fn collection_for(
        &self,
        id_or_alias: &str,
        org: i64,
    ) -> Result<Option<(Collection, Grant)>, StoreError> {
        herald_db::dispatch!(&self.pools, collection_for, id_or_alias, org)
    }

    /// Stores a POST's valid objects in one transaction, applying the TLP reference rule, and
    /// records its status (with `refused`, the objects refused before storage) and an audit
    /// entry. Returns the status as stored.
    pub async fn ingest(&self, post: &Ingest<'_>) -> Result<Status, StoreError> {
        herald_db::dispatch!(write, &self.pools, ingest, post)
    }

    /// A page of objects (or manifest records) that `reader` may see, in `(date_added, seq)`
    /// order, and whether more follow.
    pub async fn page(&self, query: &ObjectQuery<'_>) -> Result<Page, StoreError> {
        herald_db::dispatch!(&self.pools, page, query)
    }

    /// A page of objects (with bodies) that `reader` may see, joined for an envelope in one
    /// statement: what [`Store::page`] gives, without a row per object.
    pub async fn body_page(&self, query: &ObjectQuery<'_>) -> Result<BodyPage, StoreError> {
        herald_db::dispatch!(&self.pools, body_page, query)
    }

    /// Deletes the versions of an object that `query` selects (TAXII 2.1 §5.7), when its
    /// reader may see them and is their author's organisation or the operator; audited.
    pub async fn delete(
        &self,
        query: &ObjectQuery<'_>,
        now_us: i64,
    ) -> Result<DeleteOutcome, StoreError> {
        herald_db::dispatch!(write, &self.pools, delete, query, now_us)
    }

    /// A status resource, only for the organisation that posted it.
    pub async fn status(&self, id: &str, org: i64) -> Result<Option<Status>, StoreError> {
        herald_db::dispatch!(&self.pools, status, id, org)
    }

    /// Appends an audit entry (outside an ingest, which appends its own).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        herald_db::dispatch!(write, &self.pools, audit, entry)
    }

    /// Opens an incident of the mandatory track; audited with `audit`.
    pub async fn add_incident(
        &self,
        incident: &NewIncident<'_>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(write, &self.pools, add_incident, incident, audit)
    }

    /// The incidents of `org` (of every organisation with `None`, for the operator's tools),
    /// newest first.
    pub async fn incidents(&self, org: Option<i64>) -> Result<Vec<Incident>, StoreError> {
        herald_db::dispatch!(&self.pools, incidents, org)
    }

    /// The incident `id` when it belongs to `org`.
    pub async fn incident(&self, id: &str, org: i64) -> Result<Option<Incident>, StoreError> {
        herald_db::dispatch!(&self.pools, incident, id, org)
    }

    /// Stores one stage's report, once per stage; audited with `audit`.
    pub async fn submit_stage(
        &self,
        submission: &StageSubmission<'_>,
        audit: &AuditEntry,
    ) -> Result<SubmitOutcome, StoreError> {
        herald_db::dispatch!(write, &self.pools, submit_stage, submission, audit)
    }

    /// Walks the audit chain from the first entry; the first break found, if any.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        herald_db::dispatch!(&self.pools, verify_audit)
    }

    /// Audit entries after `after_seq`, oldest first, at most `limit`.
    pub async fn audit_entries(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        herald_db::dispatch!(&self.pools, audit_entries, after_seq, limit)
    }

    /// Rows in each table, for tests that check nothing changed.
    pub async fn counts(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        herald_db::dispatch!(&self.pools, counts)
    }
}
