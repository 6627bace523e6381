//! The store's queries and transactions, compiled once per backend (see `store/mod.rs`).
//!
//! Every operation runs through `run_tx`; writes begin with the backend's `BEGIN_WRITE`.

mod audit;
mod certs;
mod incidents;
mod ingest;
mod objects;
mod orgs;
mod read;

pub(crate) use audit::{audit, audit_entries, verify_audit};
pub(crate) use certs::{add_client_cert, client_certs, org_by_cert, remove_client_cert, tokens_of};
pub(crate) use incidents::{add_incident, incident, incidents, submit_stage};
pub(crate) use ingest::ingest;
pub(crate) use objects::{delete, status};
pub(crate) use orgs::{
    add_collection, add_org, add_token, collection_by_alias, collection_for, collections_of, grant,
    join_community, org_by_identity, org_by_name, org_by_token, orgs, revoke_token,
    set_org_disabled,
};
pub(crate) use read::{body_page, counts, page};

use super::Db;

/// A TLP from its stored code.
fn stored_tlp(code: i64) -> Result<herald_stix::tlp::Tlp, herald_db::DbError> {
    u8::try_from(code)
        .ok()
        .and_then(herald_stix::tlp::Tlp::from_code)
        .ok_or_else(|| herald_db::DbError::corrupt("stix_object", "tlp", &"not 0 to 4"))
}

/// The visibility predicate of spec §4 for the object rows aliased `o`, as SQL with the
/// reader's organisation bound (the operator sees everything).
fn push_visible(q: &mut sqlx::QueryBuilder<Db>, reader: crate::store::Reader) {
    if reader.operator {
        q.push(" AND TRUE");
        return;
    }
    q.push(" AND (o.author_org = ").push_bind(reader.org);
    q.push(
        " OR o.tlp = 0 OR (o.tlp IN (1, 2) AND o.author_org IN (SELECT b.org_id FROM \
         community_member a JOIN community_member b ON b.community_id = a.community_id \
         WHERE a.org_id = ",
    )
    .push_bind(reader.org);
    q.push(")) OR (o.tlp = 4 AND EXISTS (SELECT 1 FROM object_recipient r WHERE r.seq = o.seq AND r.org_id = ")
        .push_bind(reader.org);
    q.push(")))");
}
