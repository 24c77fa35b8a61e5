//! `api_logs`: the bridge's event log at the IBKR boundary.

use sqlx::PgPool;

use crate::domain::api_log::ApiLogEntry;

pub async fn insert(pool: &PgPool, entry: &ApiLogEntry) -> Result<(), sqlx::Error> {
    sqlx::query(r#"INSERT INTO api_logs ("timestamp", api_mode, message, status) VALUES (to_timestamp($1::double precision / 1000), $2, $3, $4)"#)
        .bind(entry.at.as_millisecond())
        .bind(entry.api_mode.as_str())
        .bind(&entry.message)
        .bind(entry.status.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

/// The newest `limit` entries, newest first: (epoch ms, api_mode, status, message).
pub async fn recent(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(i64, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint, api_mode, status, message
             FROM api_logs ORDER BY "timestamp" DESC, id DESC LIMIT $1"#,
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
