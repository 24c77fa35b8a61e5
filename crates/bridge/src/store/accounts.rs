//! `accounts`: one row per IBKR account code, shared with the existing application, whose
//! `id` every other table calls `account_id`. The raw code is stored here — and in
//! `portfolio_greeks.account`, which the greeks writer fills without the database's ids —
//! and never read back for the API: views show the alias, or `Account Alias {id}`.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{PgConnection, PgPool};

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
    let find = || {
        sqlx::query_scalar::<_, i32>("SELECT id FROM accounts WHERE account = $1")
            .bind(code.as_str())
    };
    if let Some(id) = find().fetch_optional(&mut *conn).await? {
        return Ok(id);
    }
    // Only for an account not seen before: an INSERT … ON CONFLICT takes a sequence value even
    // when it inserts nothing, so doing it at every sync made ids jump (a third account got 4).
    let inserted: Option<i32> = sqlx::query_scalar(
        "INSERT INTO accounts (account) VALUES ($1) ON CONFLICT (account) DO NOTHING RETURNING id",
    )
    .bind(code.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        // Another process inserted it in between.
        None => find().fetch_one(&mut *conn).await,
    }
}

/// An account as the read API shows it: by alias, or `Account Alias {id}` without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: i32,
    pub alias: String,
    /// Whether an alias was set (else `alias` is the stand-in).
    pub has_alias: bool,
}

/// Every account, by id.
pub async fn list(pool: &PgPool) -> Result<Vec<AccountView>, sqlx::Error> {
    let rows: Vec<(i32, String, bool)> = sqlx::query_as(
        "SELECT id, COALESCE(alias, 'Account Alias ' || id), alias IS NOT NULL
           FROM accounts ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, alias, has_alias)| AccountView {
            id,
            alias,
            has_alias,
        })
        .collect())
}

/// Account `id`, if there is one.
pub async fn one(pool: &PgPool, id: i32) -> Result<Option<AccountView>, sqlx::Error> {
    let row: Option<(i32, String, bool)> = sqlx::query_as(
        "SELECT id, COALESCE(alias, 'Account Alias ' || id), alias IS NOT NULL
           FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, alias, has_alias)| AccountView {
        id,
        alias,
        has_alias,
    }))
}

/// Sets (or with `None`, clears) the alias of account `id`; `None` if there is no such account.
pub async fn set_alias(
    pool: &PgPool,
    id: i32,
    alias: Option<&str>,
) -> Result<Option<AccountView>, sqlx::Error> {
    let row: Option<(i32, String, bool)> = sqlx::query_as(
        "UPDATE accounts SET alias = $2 WHERE id = $1
         RETURNING id, COALESCE(alias, 'Account Alias ' || id), alias IS NOT NULL",
    )
    .bind(id)
    .bind(alias)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, alias, has_alias)| AccountView {
        id,
        alias,
        has_alias,
    }))
}

/// How each account code reads in the API: code → alias (or its stand-in).
pub async fn aliases_by_code(pool: &PgPool) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT account, COALESCE(alias, 'Account Alias ' || id) FROM accounts")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}
