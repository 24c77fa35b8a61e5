//! Schema check: what the bridge needs from each table it uses, compared with the catalog.
//!
//! Migrations create what is absent and leave what is present, so a table that predates the
//! bridge (the existing application's, or another program's that happens to share a name) is
//! accepted as it is. This check makes sure such a table can really serve the bridge — every
//! column it reads or writes, of a compatible type, and the unique keys its upserts rely on —
//! so a mismatch stops startup with a message instead of failing at the first insert.
//!
//! It only reads the catalog; it never changes the schema.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sqlx::PgPool;

use super::StoreError;

/// The family of SQL types a column may have for the bridge to use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `integer`, `bigint` or `smallint`.
    Int,
    /// `double precision` or `real`.
    Float,
    /// `text`, `character varying` or `character`.
    Text,
    /// `timestamp with time zone` only: a zone-less timestamp would be misread.
    Timestamptz,
    /// `json` or `jsonb`.
    Json,
    /// `bytea`.
    Bytes,
}

impl Kind {
    fn accepts(self, data_type: &str) -> bool {
        let allowed: &[&str] = match self {
            Kind::Int => &["integer", "bigint", "smallint"],
            Kind::Float => &["double precision", "real"],
            Kind::Text => &["text", "character varying", "character"],
            Kind::Timestamptz => &["timestamp with time zone"],
            Kind::Json => &["json", "jsonb"],
            Kind::Bytes => &["bytea"],
        };
        allowed.contains(&data_type)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Int => "an integer type",
            Kind::Float => "double precision",
            Kind::Text => "a text type",
            Kind::Timestamptz => "timestamp with time zone",
            Kind::Json => "json or jsonb",
            Kind::Bytes => "bytea",
        })
    }
}

/// What the bridge needs from one table.
#[derive(Debug)]
pub struct TableNeeds {
    pub table: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// Column sets that must each be covered by a plain (non-partial) unique index, because an
    /// `ON CONFLICT` names them.
    pub unique_keys: &'static [&'static [&'static str]],
}

use Kind::{Bytes, Float, Int, Json, Text, Timestamptz};

/// `portfolio_greeks`, `api_logs`, and the greeks history's rollups.
pub const GREEKS_TABLES: &[TableNeeds] = &[
    TableNeeds {
        table: "portfolio_greeks",
        columns: &[
            ("id", Int),
            ("timestamp", Timestamptz),
            ("contract", Text),
            ("delta", Float),
            ("gamma", Float),
            ("vega", Float),
            ("theta", Float),
            ("underlying_price", Float),
            ("row_key", Text),
            ("account", Text),
            ("delta_dollars", Float),
            ("gamma_dollars", Float),
            ("vega_lt30", Float),
            ("vega_30_90", Float),
            ("vega_gt90", Float),
            ("theta_lt30", Float),
            ("theta_30_90", Float),
            ("theta_gt90", Float),
            ("bridge", Text),
        ],
        unique_keys: &[&["row_key"]],
    },
    TableNeeds {
        table: "api_logs",
        columns: &[
            ("id", Int),
            ("timestamp", Timestamptz),
            ("api_mode", Text),
            ("message", Text),
            ("status", Text),
            ("row_key", Text),
            ("bridge", Text),
        ],
        unique_keys: &[&["row_key"]],
    }, // Created by the bridge (migration 0009); the greeks writer and `greeks.history` use them.
    TableNeeds {
        table: "portfolio_greeks_1m",
        columns: &[
            ("contract", Text),
            ("account", Text),
            ("bridge", Text),
            ("bucket", Timestamptz),
            ("n_rows", Int),
            ("delta", Float),
            ("delta_min", Float),
            ("delta_max", Float),
            ("gamma", Float),
            ("gamma_min", Float),
            ("gamma_max", Float),
            ("vega", Float),
            ("vega_min", Float),
            ("vega_max", Float),
            ("theta", Float),
            ("theta_min", Float),
            ("theta_max", Float),
            ("underlying_price", Float),
            ("underlying_price_min", Float),
            ("underlying_price_max", Float),
            ("delta_dollars", Float),
            ("delta_dollars_min", Float),
            ("delta_dollars_max", Float),
            ("gamma_dollars", Float),
            ("gamma_dollars_min", Float),
            ("gamma_dollars_max", Float),
            ("vega_lt30", Float),
            ("vega_lt30_min", Float),
            ("vega_lt30_max", Float),
            ("vega_30_90", Float),
            ("vega_30_90_min", Float),
            ("vega_30_90_max", Float),
            ("vega_gt90", Float),
            ("vega_gt90_min", Float),
            ("vega_gt90_max", Float),
            ("theta_lt30", Float),
            ("theta_lt30_min", Float),
            ("theta_lt30_max", Float),
            ("theta_30_90", Float),
            ("theta_30_90_min", Float),
            ("theta_30_90_max", Float),
            ("theta_gt90", Float),
            ("theta_gt90_min", Float),
            ("theta_gt90_max", Float),
        ],
        unique_keys: &[&["contract", "account", "bridge", "bucket"]],
    },
    TableNeeds {
        table: "greeks_rollup_pending",
        columns: &[("id", Int), ("lo", Timestamptz), ("hi", Timestamptz)],
        unique_keys: &[],
    },
];

/// `combo_positions` and `combo_position_legs`.
pub const COMBO_TABLES: &[TableNeeds] = &[
    TableNeeds {
        table: "combo_positions",
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("source", Text),
            ("combo_key", Text),
            ("name", Text),
            ("description", Text),
            ("position", Float),
            ("avg_price", Float),
            ("market_value", Float),
            ("unrealized_pnl", Float),
            ("realized_pnl", Float),
            ("raw", Json),
            ("fetched_at", Timestamptz),
            ("created_at", Timestamptz),
            ("updated_at", Timestamptz),
            ("stale_at", Timestamptz),
            ("content_hash", Bytes),
        ],
        unique_keys: &[&["account_id", "source", "combo_key"]],
    },
    TableNeeds {
        table: "combo_position_legs",
        columns: &[
            ("id", Int),
            ("combo_position_id", Int),
            ("con_id", Int),
            ("ratio", Float),
            ("position", Float),
            ("avg_price", Float),
            ("market_value", Float),
            ("unrealized_pnl", Float),
            ("realized_pnl", Float),
            ("raw", Json),
            ("created_at", Timestamptz),
            ("updated_at", Timestamptz),
        ],
        unique_keys: &[&["combo_position_id", "con_id"]],
    },
];

/// `accounts`, `positions` and `jobs`, shared with the existing application.
pub const APP_TABLES: &[TableNeeds] = &[
    TableNeeds {
        table: "accounts",
        columns: &[("id", Int), ("account", Text), ("alias", Text)],
        unique_keys: &[&["account"]],
    },
    TableNeeds {
        table: "positions",
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("con_id", Int),
            ("symbol", Text),
            ("sec_type", Text),
            ("exchange", Text),
            ("primary_exchange", Text),
            ("currency", Text),
            ("local_symbol", Text),
            ("trading_class", Text),
            ("last_trade_date", Text),
            ("strike", Float),
            ("right", Text),
            ("multiplier", Text),
            ("position", Float),
            ("avg_cost", Float),
            ("fetched_at", Timestamptz),
            ("market_price", Float),
            ("market_value", Float),
            ("unrealized_pnl", Float),
            ("realized_pnl", Float),
            ("underlying_con_id", Int),
            ("source", Text),
            ("raw", Json),
            ("updated_at", Timestamptz),
        ],
        unique_keys: &[&["account_id", "con_id"]],
    },
    TableNeeds {
        table: "jobs",
        columns: &[
            ("id", Int),
            ("job_type", Text),
            ("status", Text),
            ("payload", Json),
            ("result", Json),
            ("source", Text),
            ("request_text", Text),
            ("attempts", Int),
            ("max_attempts", Int),
            ("available_at", Timestamptz),
            ("started_at", Timestamptz),
            ("completed_at", Timestamptz),
            ("archived_at", Timestamptz),
            ("last_error", Text),
            ("created_at", Timestamptz),
            ("updated_at", Timestamptz),
            ("dedup_key", Text),
            ("locked_by", Text),
            ("locked_until", Timestamptz),
            ("bridge", Text),
        ],
        unique_keys: &[],
    },
];

/// The schema does not give the bridge what it needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the database schema is not ready for the bridge:\n  - {}\nRun `portfolio-bridge migrate` \
     against this database. If a table named here belongs to another application, give the \
     bridge its own database.",
    problems.join("\n  - ")
)]
pub struct SchemaError {
    pub problems: Vec<String>,
}

/// What the catalog says about a set of tables: column types, and the column sets of their
/// plain unique indexes.
#[derive(Debug, Default)]
pub struct Catalog {
    columns: BTreeMap<(String, String), String>,
    unique_keys: BTreeMap<String, Vec<BTreeSet<String>>>,
    /// The partition key columns of partitioned tables: PostgreSQL makes every unique index
    /// of such a table include them.
    partition_keys: BTreeMap<String, BTreeSet<String>>,
}

/// Compares `needs` with `catalog` and lists every problem, in table order.
pub fn problems<'a>(
    needs: impl IntoIterator<Item = &'a TableNeeds>,
    catalog: &Catalog,
) -> Vec<String> {
    let mut out = Vec::new();
    for t in needs {
        let present = catalog.columns.keys().any(|(table, _)| table == t.table);
        if !present {
            out.push(format!("table {} is missing", t.table));
            continue;
        }
        for (column, kind) in t.columns {
            match catalog
                .columns
                .get(&(t.table.to_owned(), (*column).to_owned()))
            {
                None => out.push(format!("column {}.{column} is missing", t.table)),
                Some(ty) if !kind.accepts(ty) => out.push(format!(
                    "column {}.{column} is {ty}, but the bridge needs {kind}",
                    t.table
                )),
                Some(_) => {}
            }
        }
        let indexes = catalog
            .unique_keys
            .get(t.table)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let partition_key = catalog.partition_keys.get(t.table);
        for key in t.unique_keys {
            let wanted: BTreeSet<String> = key.iter().map(|c| (*c).to_owned()).collect();
            // On a partitioned table, the key with the partition key added is the same rule
            // wherever the partition key follows from the key (a greeks row_key names its tick).
            let widened: Option<BTreeSet<String>> =
                partition_key.map(|p| wanted.union(p).cloned().collect());
            if !indexes.contains(&wanted) && !widened.is_some_and(|w| indexes.contains(&w)) {
                out.push(format!(
                    "table {} has no unique constraint on ({})",
                    t.table,
                    key.join(", ")
                ));
            }
        }
    }
    out
}

/// Reads column types and plain unique indexes of `tables` in the current schema.
pub async fn read_catalog(pool: &PgPool, tables: &[&str]) -> Result<Catalog, sqlx::Error> {
    let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text
           FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = ANY($1)",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;
    let indexes: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, array_agg(a.attname::text ORDER BY a.attname)
           FROM pg_index i
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)
          WHERE n.nspname = current_schema() AND t.relname = ANY($1)
            AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
          GROUP BY t.relname, i.indexrelid",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;

    let partitioned: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, array_agg(a.attname::text)
           FROM pg_partitioned_table p
           JOIN pg_class t ON t.oid = p.partrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (p.partattrs)
          WHERE n.nspname = current_schema() AND t.relname = ANY($1)
          GROUP BY t.relname",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;

    let mut catalog = Catalog::default();
    for (table, cols) in partitioned {
        catalog
            .partition_keys
            .insert(table, cols.into_iter().collect());
    }
    for (table, column, ty) in columns {
        catalog.columns.insert((table, column), ty);
    }
    for (table, cols) in indexes {
        catalog
            .unique_keys
            .entry(table)
            .or_default()
            .push(cols.into_iter().collect());
    }
    Ok(catalog)
}

/// Every table the bridge uses.
pub const ALL_TABLES: &[&[TableNeeds]] = &[GREEKS_TABLES, COMBO_TABLES, APP_TABLES];

/// Checks each group of tables in `groups` against the database.
pub async fn check(pool: &PgPool, groups: &[&[TableNeeds]]) -> Result<(), StoreError> {
    let needs: Vec<&TableNeeds> = groups.iter().flat_map(|g| g.iter()).collect();
    let tables: Vec<&str> = needs.iter().map(|t| t.table).collect();
    let catalog = read_catalog(pool, &tables).await?;
    let problems = problems(needs, &catalog);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SchemaError { problems }.into())
    }
}

/// Which of the tables in `groups` exist now.
pub async fn present(pool: &PgPool, groups: &[&[TableNeeds]]) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<String> = groups
        .iter()
        .flat_map(|g| g.iter())
        .map(|t| t.table.to_owned())
        .collect();
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_name = ANY($1)",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await
}

/// The problems of the tables of `groups` named in `tables`: what a failed migration ran into,
/// among the tables that were there before it (the ones it created are the bridge's own, and
/// merely not finished).
pub async fn problems_of(
    pool: &PgPool,
    groups: &[&[TableNeeds]],
    tables: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    let catalog = read_catalog(pool, &names).await?;
    let needs = groups
        .iter()
        .flat_map(|g| g.iter())
        .filter(|t| tables.iter().any(|name| name == t.table));
    Ok(problems(needs, &catalog))
}

/// The guard of combo-position work: refuses, with a message saying what is missing and what
/// to run, when the combo tables are absent or unusable.
pub async fn check_combo_tables_ready(pool: &PgPool) -> Result<(), StoreError> {
    check(pool, &[COMBO_TABLES]).await
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
