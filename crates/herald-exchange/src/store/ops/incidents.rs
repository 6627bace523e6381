//! The mandatory track's incidents and their submitted reports (spec §5), each write audited.

use herald_db::run_tx;
use sqlx::Pool;

use super::super::BEGIN_WRITE;
use super::Db;
use super::audit::append_audit;
use crate::store::{
    AuditEntry, Incident, NewIncident, StageSubmission, StoreError, SubmitOutcome, Submitted,
};

type IncidentColumns = (String, i64, String, String, String, i64, bool, bool, Option<i64>, i64);

const COLUMNS: &str = "i.id, i.org_id, o.name, i.title, i.summary, i.aware_at_us, \
                       i.significant, i.personal_data, i.handled_at_us, i.created_us";

pub(crate) async fn add_incident(
    pool: &Pool<Db>,
    incident: &NewIncident<'_>,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    run_tx("add_incident", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(
            "INSERT INTO incident (id, org_id, title, summary, aware_at_us, significant, \
             personal_data, handled_at_us, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(incident.id)
        .bind(incident.org)
        .bind(incident.title)
        .bind(incident.summary)
        .bind(incident.aware_at_us)
        .bind(incident.significant)
        .bind(incident.personal_data)
        .bind(incident.created_us)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// The incidents of `org` (every organisation's with `None`), newest first, with their stages.
pub(crate) async fn incidents(
    pool: &Pool<Db>,
    org: Option<i64>,
) -> Result<Vec<Incident>, StoreError> {
    run_tx("incidents", || async {
        let rows: Vec<IncidentColumns> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM incident i JOIN org o ON o.id = i.org_id \
             WHERE (CAST($1 AS BIGINT) IS NULL OR i.org_id = $1) ORDER BY i.created_us DESC, i.id"
        )))
        .bind(org)
        .fetch_all(pool)
        .await?;
        let stages: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT s.incident_id, s.stage, s.submitted_us FROM incident_stage s \
             JOIN incident i ON i.id = s.incident_id WHERE (CAST($1 AS BIGINT) IS NULL OR i.org_id = $1) \
             ORDER BY s.submitted_us",
        )
        .bind(org)
        .fetch_all(pool)
        .await?;
        let mut out: Vec<Incident> = rows.into_iter().map(incident_row).collect();
        let at: std::collections::HashMap<String, usize> =
            out.iter().enumerate().map(|(n, i)| (i.id.clone(), n)).collect();
        for (id, stage, submitted_us) in stages {
            if let Some(incident) = at.get(&id).and_then(|n| out.get_mut(*n)) {
                incident.submitted.push(Submitted { stage, submitted_us });
            }
        }
        Ok(out)
    })
    .await
}

/// The incident `id` when it is `org`'s.
pub(crate) async fn incident(
    pool: &Pool<Db>,
    id: &str,
    org: i64,
) -> Result<Option<Incident>, StoreError> {
    run_tx("incident", || async {
        let mut conn = pool.acquire().await?;
        Ok(one(&mut conn, id, org).await?)
    })
    .await
}

type Conn = <Db as sqlx::Database>::Connection;

async fn one(conn: &mut Conn, id: &str, org: i64) -> Result<Option<Incident>, sqlx::Error> {
    let row: Option<IncidentColumns> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incident i JOIN org o ON o.id = i.org_id \
         WHERE i.id = $1 AND i.org_id = $2"
    )))
    .bind(id)
    .bind(org)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut incident = incident_row(row);
    let stages: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stage, submitted_us FROM incident_stage WHERE incident_id = $1 \
         ORDER BY submitted_us",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    incident.submitted =
        stages.into_iter().map(|(stage, submitted_us)| Submitted { stage, submitted_us }).collect();
    Ok(Some(incident))
}

fn incident_row(
    (
        id,
        org,
        org_name,
        title,
        summary,
        aware_at_us,
        significant,
        personal_data,
        handled_at_us,
        created_us,
    ): IncidentColumns,
) -> Incident {
    Incident {
        id,
        org,
        org_name,
        title,
        summary,
        aware_at_us,
        significant,
        personal_data,
        handled_at_us,
        created_us,
        submitted: Vec::new(),
    }
}

pub(crate) async fn submit_stage(
    pool: &Pool<Db>,
    submission: &StageSubmission<'_>,
    audit: &AuditEntry,
) -> Result<SubmitOutcome, StoreError> {
    run_tx("submit_stage", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT org_id FROM incident WHERE id = $1 AND org_id = $2")
                .bind(submission.incident)
                .bind(submission.org)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(SubmitOutcome::NotFound);
        }
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT submitted_us FROM incident_stage WHERE incident_id = $1 AND stage = $2",
        )
        .bind(submission.incident)
        .bind(submission.stage)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(at) = before {
            return Ok(SubmitOutcome::AlreadySubmitted(at));
        }
        sqlx::query(
            "INSERT INTO incident_stage (incident_id, stage, submitted_us, content, body_sha256) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(submission.incident)
        .bind(submission.stage)
        .bind(submission.submitted_us)
        .bind(submission.content)
        .bind(submission.body_sha256)
        .execute(&mut *tx)
        .await?;
        if let Some(handled) = submission.handled_at_us {
            sqlx::query("UPDATE incident SET handled_at_us = $1 WHERE id = $2")
                .bind(handled)
                .bind(submission.incident)
                .execute(&mut *tx)
                .await?;
        }
        append_audit(&mut tx, audit).await?;
        let incident = one(&mut tx, submission.incident, submission.org).await?;
        tx.commit().await?;
        Ok(incident.map_or(SubmitOutcome::NotFound, SubmitOutcome::Stored))
    })
    .await
}
