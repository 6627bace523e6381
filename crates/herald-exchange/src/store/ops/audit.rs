//! The hash-chained audit log (spec §8).
//!
//! `hash = SHA-256("herald-audit-v1" ‖ 0x00 ‖ prev_hash ‖ seq (i64 BE) ‖ at_us (i64 BE) ‖
//! actor (i64 BE, −1 for none) ‖ action ‖ subject ‖ detail)`, each text preceded by its length
//! (u32 BE). An append locks the head row (`audit_head`), so the chain never forks.

use herald_db::{DbError, run_tx};
use sha2::{Digest, Sha256};
use sqlx::Pool;

use super::super::BEGIN_WRITE;
use super::Db;
use crate::store::{AuditCheck, AuditEntry, AuditRow, StoreError};

/// The hash of an entry at `seq` after `prev`.
pub(crate) fn entry_hash(prev: &[u8; 32], seq: i64, entry: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"herald-audit-v1\0");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(entry.at_us.to_be_bytes());
    h.update(entry.actor_org.unwrap_or(-1).to_be_bytes());
    for text in [&entry.action, &entry.subject, &entry.detail] {
        h.update(u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().into()
}

fn hash32(table: &'static str, column: &'static str, bytes: &[u8]) -> Result<[u8; 32], DbError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| DbError::corrupt(table, column, &"not 32 bytes"))
}

/// Appends `entry` inside the caller's write transaction; returns its seq.
pub(crate) async fn append_audit(
    conn: &mut <Db as sqlx::Database>::Connection,
    entry: &AuditEntry,
) -> Result<i64, sqlx::Error> {
    // The UPDATE takes the head row's lock before reading it (READ COMMITTED on PostgreSQL).
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *conn).await?;
    let (seq, prev): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    // A damaged head must not restart the chain from zeros: refuse the append instead.
    let prev = <[u8; 32]>::try_from(prev.as_slice())
        .map_err(|_| sqlx::Error::Decode("audit_head.hash is not 32 bytes".into()))?;
    let seq = seq + 1;
    let hash = entry_hash(&prev, seq, entry);
    sqlx::query(
        "INSERT INTO audit_log (seq, at_us, actor_org, action, subject, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(entry.at_us)
    .bind(entry.actor_org)
    .bind(&entry.action)
    .bind(&entry.subject)
    .bind(&entry.detail)
    .bind(prev.to_vec())
    .bind(hash.to_vec())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

pub(crate) async fn audit(pool: &Pool<Db>, entry: &AuditEntry) -> Result<i64, StoreError> {
    run_tx("audit", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let seq = append_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(seq)
    })
    .await
}

type AuditColumns = (i64, i64, Option<i64>, String, String, String, Vec<u8>, Vec<u8>);

fn audit_row(
    (seq, at_us, actor_org, action, subject, detail, prev, hash): AuditColumns,
) -> Result<AuditRow, DbError> {
    Ok(AuditRow {
        seq,
        entry: AuditEntry { at_us, actor_org, action, subject, detail },
        prev_hash: hash32("audit_log", "prev_hash", &prev)?,
        hash: hash32("audit_log", "hash", &hash)?,
    })
}

pub(crate) async fn audit_entries(
    pool: &Pool<Db>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    let rows: Vec<AuditColumns> = run_tx("audit_entries", || async {
        Ok(sqlx::query_as(
            "SELECT seq, at_us, actor_org, action, subject, detail, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(audit_row).collect()
}

/// Walks the chain in pages of 1 000 (memory stays bounded however long the log is).
pub(crate) async fn verify_audit(pool: &Pool<Db>) -> Result<AuditCheck, StoreError> {
    let (head_seq, head_hash): (i64, Vec<u8>) = run_tx("audit_head", || async {
        Ok(sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await?)
    })
    .await?;
    let mut prev = [0u8; 32];
    let mut expected = 1i64;
    loop {
        let rows = audit_entries(pool, expected - 1, 1_000).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let broken =
                |reason: &str| Ok(AuditCheck::Broken { seq: row.seq, reason: reason.into() });
            if row.seq != expected {
                return Ok(AuditCheck::Broken {
                    seq: expected,
                    reason: format!("entry {expected} is missing (the next is {})", row.seq),
                });
            }
            if row.prev_hash != prev {
                return broken("its previous hash is not the hash of the entry before");
            }
            if row.hash != entry_hash(&prev, row.seq, &row.entry) {
                return broken("its contents do not match its hash (edited)");
            }
            prev = row.hash;
            expected += 1;
        }
    }
    let last = expected - 1;
    if last != head_seq || (last > 0 && head_hash.as_slice() != prev.as_slice()) {
        return Ok(AuditCheck::Broken {
            seq: last + 1,
            reason: format!("the head names entry {head_seq} but the log ends at entry {last}"),
        });
    }
    Ok(AuditCheck::Intact { entries: last })
}
