//! `api_logs`: the bridge's event log at the IBKR boundary.

use sqlx::PgPool;

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
