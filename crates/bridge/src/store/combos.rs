//! `combo_positions` and `combo_position_legs`: native combos from the Client Portal
//! (`source = 'cpapi'`) with their legs. Reads one account's stored combos and carries out a
//! [`Plan`] — the domain decides what to write; this only writes it, inside the caller's
//! transaction.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres};

use crate::domain::combo::{ComboFields, Figures, LegFields, Plan, StoredCombo};
use crate::domain::ids::ConId;

const SOURCE: &str = "cpapi";

type Scalar<'q> = QueryScalar<'q, Postgres, i32, PgArguments>;

/// Binds the figures to the next five parameters: `position, avg_price, market_value,
/// unrealized_pnl, realized_pnl`, the columns both tables share.
fn bind_figures<'q>(q: Scalar<'q>, f: &Figures) -> Scalar<'q> {
    q.bind(f.position)
        .bind(f.avg_price)
        .bind(f.market_value)
        .bind(f.unrealized_pnl)
        .bind(f.realized_pnl)
}

/// The figures of a row read as `… position, avg_price, market_value, unrealized_pnl,
/// realized_pnl …`.
type FigureColumns = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn figures(
    (position, avg_price, market_value, unrealized_pnl, realized_pnl): FigureColumns,
) -> Figures {
    Figures {
        position,
        avg_price,
        market_value,
        unrealized_pnl,
        realized_pnl,
    }
}

type ComboRow = (
    i32,
    String,
    bool,
    Option<String>,
    Option<String>,
    Json<Value>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

type LegRow = (
    i32,
    i32,
    Option<f64>,
    Json<Value>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// Every stored combo of the account (stale ones too), with its legs.
pub async fn load(
    conn: &mut PgConnection,
    account_id: i32,
) -> Result<Vec<StoredCombo>, sqlx::Error> {
    let combos: Vec<ComboRow> = sqlx::query_as(
        "SELECT id, combo_key, stale_at IS NOT NULL, name, description, raw::jsonb,
                position, avg_price, market_value, unrealized_pnl, realized_pnl
           FROM combo_positions WHERE account_id = $1 AND source = $2 ORDER BY id",
    )
    .bind(account_id)
    .bind(SOURCE)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i32> = combos.iter().map(|c| c.0).collect();
    let legs: Vec<LegRow> = sqlx::query_as(
        "SELECT combo_position_id, con_id, ratio, raw::jsonb,
                position, avg_price, market_value, unrealized_pnl, realized_pnl
           FROM combo_position_legs WHERE combo_position_id = ANY($1) ORDER BY con_id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_combo: BTreeMap<i32, Vec<(ConId, LegFields)>> = BTreeMap::new();
    for l in legs {
        // A conid IBKR could not have sent is nobody's leg; the plan never matches it.
        let Some(conid) = ConId::new(i64::from(l.1)) else {
            continue;
        };
        let fields = LegFields {
            ratio: l.2,
            figures: figures((l.4, l.5, l.6, l.7, l.8)),
            raw: l.3.0,
        };
        by_combo.entry(l.0).or_default().push((conid, fields));
    }
    Ok(combos
        .into_iter()
        .map(|c| StoredCombo {
            id: c.0,
            key: c.1,
            stale: c.2,
            fields: ComboFields {
                name: c.3,
                description: c.4,
                figures: figures((c.6, c.7, c.8, c.9, c.10)),
                raw: c.5.0,
            },
            legs: by_combo.remove(&c.0).unwrap_or_default(),
        })
        .collect())
}

async fn upsert_leg(
    conn: &mut PgConnection,
    combo_id: i32,
    conid: ConId,
    leg: &LegFields,
) -> Result<(), sqlx::Error> {
    let q = sqlx::query_scalar(
        "INSERT INTO combo_position_legs (combo_position_id, con_id, ratio, raw, position,
             avg_price, market_value, unrealized_pnl, realized_pnl, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now())
         ON CONFLICT (combo_position_id, con_id) DO UPDATE SET
             ratio = EXCLUDED.ratio, raw = EXCLUDED.raw, position = EXCLUDED.position,
             avg_price = EXCLUDED.avg_price, market_value = EXCLUDED.market_value,
             unrealized_pnl = EXCLUDED.unrealized_pnl, realized_pnl = EXCLUDED.realized_pnl,
             updated_at = now()
         RETURNING id",
    )
    .bind(combo_id)
    .bind(conid.get())
    .bind(leg.ratio)
    .bind(Json(&leg.raw));
    bind_figures(q, &leg.figures).fetch_one(&mut *conn).await?;
    Ok(())
}

/// Carries out `plan` for the account.
pub async fn apply(
    conn: &mut PgConnection,
    account_id: i32,
    plan: &Plan<'_>,
) -> Result<(), sqlx::Error> {
    for combo in &plan.insert {
        let f = &combo.fields;
        let q = sqlx::query_scalar(
            "INSERT INTO combo_positions (account_id, source, combo_key, name, description, raw,
                 position, avg_price, market_value, unrealized_pnl, realized_pnl,
                 fetched_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), now(), now())
             RETURNING id",
        )
        .bind(account_id)
        .bind(SOURCE)
        .bind(combo.key.as_str())
        .bind(&f.name)
        .bind(&f.description)
        .bind(Json(&f.raw));
        let id = bind_figures(q, &f.figures).fetch_one(&mut *conn).await?;
        for (conid, leg) in &combo.legs {
            upsert_leg(conn, id, *conid, leg).await?;
        }
    }
    for (id, combo) in &plan.update {
        let f = &combo.fields;
        let q = sqlx::query_scalar(
            "UPDATE combo_positions
                SET name = $2, description = $3, raw = $4, position = $5, avg_price = $6,
                    market_value = $7, unrealized_pnl = $8, realized_pnl = $9,
                    stale_at = NULL, fetched_at = now(), updated_at = now()
              WHERE id = $1
              RETURNING id",
        )
        .bind(id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(Json(&f.raw));
        bind_figures(q, &f.figures).fetch_one(&mut *conn).await?;
    }
    for (id, conid, leg) in &plan.upsert_legs {
        upsert_leg(conn, *id, *conid, leg).await?;
    }
    for (id, conid) in &plan.remove_legs {
        sqlx::query("DELETE FROM combo_position_legs WHERE combo_position_id = $1 AND con_id = $2")
            .bind(id)
            .bind(conid.get())
            .execute(&mut *conn)
            .await?;
    }
    if !plan.mark_stale.is_empty() {
        sqlx::query(
            "UPDATE combo_positions SET stale_at = now(), updated_at = now() WHERE id = ANY($1)",
        )
        .bind(&plan.mark_stale)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
