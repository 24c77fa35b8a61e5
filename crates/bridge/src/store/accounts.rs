//! `accounts`: one row per IBKR account code, shared with the existing application, whose
//! `id` every other table calls `account_id`. The raw code is stored here and nowhere else.

use sqlx::PgConnection;

use crate::domain::ids::AccountCode;

/// The `accounts.id` of `code`, creating the row the first time, and a lock on the account for
/// the rest of the transaction so that two syncs of one account take turns. The lock is an
/// advisory one: it writes nothing.
pub async fn lock(
    conn: &mut PgConnection,
    code: &AccountCode,
    what: &str,
) -> Result<i32, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('portfolio-bridge ' || $1 || ' ' || $2))")
        .bind(what)
        .bind(code.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO accounts (account) VALUES ($1) ON CONFLICT (account) DO NOTHING")
        .bind(code.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("SELECT id FROM accounts WHERE account = $1")
        .bind(code.as_str())
        .fetch_one(&mut *conn)
        .await
}
