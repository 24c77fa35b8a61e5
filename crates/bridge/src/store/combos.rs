//! `combo_positions` and `combo_position_legs`: native combos from the Client Portal
//! (`source = 'cpapi'`) with their legs. For the sync: reads one account's stored combos by
//! content hash, then in full only those the domain asks for, and carries out a [`Plan`] —
//! the domain decides what to write; this only writes it, inside the caller's transaction. For the read API: the spreads with their legs, accounts by alias.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::PgPool;
use sqlx::postgres::PgArguments;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Row};

use crate::domain::combo::{Combo, ComboFields, Figures, LegFields, Plan, StoredCombo, StoredHash};
use crate::domain::combo_hash::ContentHash;
use crate::domain::ids::ConId;
use crate::domain::portfolio::RawPayload;
use crate::domain::spreads::LegQuantity;

const SOURCE: &str = "cpapi";

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
    Json<Box<RawValue>>,
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
    Json<Box<RawValue>>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// Every stored combo of the account (stale ones too) by its content hash: no payloads.
pub async fn load_hashes(
    conn: &mut PgConnection,
    account_id: i32,
) -> Result<Vec<StoredHash>, sqlx::Error> {
    let rows: Vec<(i32, String, bool, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, combo_key, stale_at IS NOT NULL, content_hash
           FROM combo_positions WHERE account_id = $1 AND source = $2",
    )
    .bind(account_id)
    .bind(SOURCE)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, key, stale, hash)| StoredHash {
            id,
            key,
            stale,
            hash: hash.as_deref().and_then(ContentHash::from_bytes),
        })
        .collect())
}

/// The account's stored combos `ids`, in full with their legs: the few a sync compares.
pub async fn load(
    conn: &mut PgConnection,
    account_id: i32,
    ids: &[i32],
) -> Result<Vec<StoredCombo>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let combos: Vec<ComboRow> = sqlx::query_as(
        "SELECT id, combo_key, stale_at IS NOT NULL, name, description, raw::jsonb,
                position, avg_price, market_value, unrealized_pnl, realized_pnl
           FROM combo_positions
          WHERE account_id = $1 AND source = $2 AND id = ANY($3) ORDER BY id",
    )
    .bind(account_id)
    .bind(SOURCE)
    .bind(ids)
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
            raw: RawPayload::from_json(&l.3.0),
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
                raw: RawPayload::from_json(&c.5.0),
            },
            legs: by_combo.remove(&c.0).unwrap_or_default(),
        })
        .collect())
}

/// Figures as column arrays, for `UNNEST`.
#[derive(Default)]
struct FigureArrays {
    position: Vec<Option<f64>>,
    avg_price: Vec<Option<f64>>,
    market_value: Vec<Option<f64>>,
    unrealized_pnl: Vec<Option<f64>>,
    realized_pnl: Vec<Option<f64>>,
}

impl FigureArrays {
    fn push(&mut self, f: &Figures) {
        self.position.push(f.position);
        self.avg_price.push(f.avg_price);
        self.market_value.push(f.market_value);
        self.unrealized_pnl.push(f.unrealized_pnl);
        self.realized_pnl.push(f.realized_pnl);
    }

    /// Binds the five arrays: `position, avg_price, market_value, unrealized_pnl,
    /// realized_pnl`, the columns both tables share.
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, Postgres, PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, PgArguments> {
        q.bind(self.position)
            .bind(self.avg_price)
            .bind(self.market_value)
            .bind(self.unrealized_pnl)
            .bind(self.realized_pnl)
    }
}

/// Combos' own fields as column arrays.
#[derive(Default)]
struct ComboArrays<'a> {
    names: Vec<Option<&'a str>>,
    descriptions: Vec<Option<&'a str>>,
    raws: Vec<Json<&'a RawValue>>,
    hashes: Vec<Vec<u8>>,
    figures: FigureArrays,
}

impl<'a> ComboArrays<'a> {
    fn push(&mut self, combo: &'a Combo, hash: ContentHash) {
        let f = &combo.fields;
        self.names.push(f.name.as_deref());
        self.descriptions.push(f.description.as_deref());
        self.raws.push(Json(f.raw.json()));
        self.hashes.push(hash.as_bytes().to_vec());
        self.figures.push(&f.figures);
    }
}

/// Inserts or updates legs, all in one statement.
async fn upsert_legs(
    conn: &mut PgConnection,
    legs: &[(i32, ConId, &LegFields)],
) -> Result<(), sqlx::Error> {
    if legs.is_empty() {
        return Ok(());
    }
    let (mut combo_ids, mut conids, mut ratios, mut raws) = (vec![], vec![], vec![], vec![]);
    let mut figures = FigureArrays::default();
    for (combo_id, conid, leg) in legs {
        combo_ids.push(*combo_id);
        conids.push(conid.get());
        ratios.push(leg.ratio);
        raws.push(Json(leg.raw.json()));
        figures.push(&leg.figures);
    }
    let q = sqlx::query(
        "INSERT INTO combo_position_legs (combo_position_id, con_id, ratio, raw, position,
             avg_price, market_value, unrealized_pnl, realized_pnl, created_at, updated_at)
         SELECT c, k, r, j, p, a, m, u, rl, now(), now()
           FROM UNNEST($1::int[], $2::int[], $3::float8[], $4::jsonb[], $5::float8[],
                       $6::float8[], $7::float8[], $8::float8[], $9::float8[])
                AS x(c, k, r, j, p, a, m, u, rl)
         ON CONFLICT (combo_position_id, con_id) DO UPDATE SET
             ratio = EXCLUDED.ratio, raw = EXCLUDED.raw, position = EXCLUDED.position,
             avg_price = EXCLUDED.avg_price, market_value = EXCLUDED.market_value,
             unrealized_pnl = EXCLUDED.unrealized_pnl, realized_pnl = EXCLUDED.realized_pnl,
             updated_at = now()",
    )
    .bind(combo_ids)
    .bind(conids)
    .bind(ratios)
    .bind(raws);
    figures.bind(q).execute(&mut *conn).await?;
    Ok(())
}

/// Carries out `plan` for the account: a statement per kind of change, however many combos
/// it touches.
pub async fn apply(
    conn: &mut PgConnection,
    account_id: i32,
    plan: &Plan<'_>,
) -> Result<(), sqlx::Error> {
    if !plan.insert.is_empty() {
        let mut keys = Vec::new();
        let mut fields = ComboArrays::default();
        for (combo, hash) in &plan.insert {
            keys.push(combo.key.as_str());
            fields.push(combo, *hash);
        }
        let q = sqlx::query(
            "INSERT INTO combo_positions (account_id, source, combo_key, name, description, raw,
                 content_hash, position, avg_price, market_value, unrealized_pnl, realized_pnl,
                 fetched_at, created_at, updated_at)
             SELECT $1, $2, k, n, d, j, h, p, a, m, u, rl, now(), now(), now()
               FROM UNNEST($3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bytea[],
                           $8::float8[], $9::float8[], $10::float8[], $11::float8[],
                           $12::float8[])
                    WITH ORDINALITY AS x(k, n, d, j, h, p, a, m, u, rl, o)
              ORDER BY o
             RETURNING combo_key, id",
        )
        .bind(account_id)
        .bind(SOURCE)
        .bind(keys)
        .bind(fields.names)
        .bind(fields.descriptions)
        .bind(fields.raws)
        .bind(fields.hashes);
        let ids: BTreeMap<String, i32> = fields
            .figures
            .bind(q)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| (row.get::<String, _>(0), row.get::<i32, _>(1)))
            .collect();
        let legs: Vec<(i32, ConId, &LegFields)> = plan
            .insert
            .iter()
            .flat_map(|(combo, _)| {
                let id = ids[combo.key.as_str()];
                combo.legs.iter().map(move |(conid, leg)| (id, *conid, leg))
            })
            .collect();
        upsert_legs(conn, &legs).await?;
    }
    if !plan.update.is_empty() {
        let mut ids = Vec::new();
        let mut fields = ComboArrays::default();
        for (id, combo, hash) in &plan.update {
            ids.push(*id);
            fields.push(combo, *hash);
        }
        let q = sqlx::query(
            "UPDATE combo_positions c
                SET name = x.n, description = x.d, raw = x.j, content_hash = x.h,
                    position = x.p, avg_price = x.a, market_value = x.m, unrealized_pnl = x.u,
                    realized_pnl = x.rl, stale_at = NULL, fetched_at = now(), updated_at = now()
               FROM UNNEST($1::int[], $2::text[], $3::text[], $4::jsonb[], $5::bytea[],
                           $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[])
                    AS x(id, n, d, j, h, p, a, m, u, rl)
              WHERE c.id = x.id",
        )
        .bind(ids)
        .bind(fields.names)
        .bind(fields.descriptions)
        .bind(fields.raws)
        .bind(fields.hashes);
        fields.figures.bind(q).execute(&mut *conn).await?;
    }
    if !plan.rehash.is_empty() {
        // The combo's own fields are as stored: neither fetched_at nor updated_at moves.
        let (ids, hashes): (Vec<i32>, Vec<Vec<u8>>) = plan
            .rehash
            .iter()
            .map(|(id, hash)| (*id, hash.as_bytes().to_vec()))
            .unzip();
        sqlx::query(
            "UPDATE combo_positions c SET content_hash = x.h
               FROM UNNEST($1::int[], $2::bytea[]) AS x(id, h)
              WHERE c.id = x.id",
        )
        .bind(ids)
        .bind(hashes)
        .execute(&mut *conn)
        .await?;
    }
    upsert_legs(conn, &plan.upsert_legs).await?;
    if !plan.remove_legs.is_empty() {
        let (combo_ids, conids): (Vec<i32>, Vec<i32>) = plan
            .remove_legs
            .iter()
            .map(|(id, conid)| (*id, conid.get()))
            .unzip();
        sqlx::query(
            "DELETE FROM combo_position_legs l
              USING UNNEST($1::int[], $2::int[]) AS x(c, k)
              WHERE l.combo_position_id = x.c AND l.con_id = x.k",
        )
        .bind(combo_ids)
        .bind(conids)
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

/// Which spreads the read API wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SpreadFilter {
    pub id: Option<i32>,
    pub account_id: Option<i32>,
    /// Spreads with a leg of this symbol (any case).
    pub symbol: Option<String>,
    pub include_stale: bool,
    pub limit: i64,
    /// Spreads whose name (trader's label, codes, IBKR's name or legs) contains this, any
    /// case; matched by the read API, which makes the labels.
    pub search: Option<String>,
}

/// A stored combo as the read API and the page show it; the account by its alias only.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpreadRow {
    pub id: i32,
    pub account_id: i32,
    pub account: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub position: Option<f64>,
    pub avg_price: Option<f64>,
    pub market_value: Option<f64>,
    pub unrealized_pnl: Option<f64>,
    pub realized_pnl: Option<f64>,
    pub fetched_at: Timestamp,
    pub updated_at: Timestamp,
    pub stale: bool,
    pub legs: Vec<SpreadLeg>,
}

/// A leg of a spread, named from the leg positions where they are known.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpreadLeg {
    pub con_id: i32,
    pub symbol: Option<String>,
    pub local_symbol: Option<String>,
    /// IBKR's description of the contract (`CL MAR2027`).
    pub description: Option<String>,
    pub sec_type: Option<String>,
    pub last_trade_date: Option<String>,
    pub strike: Option<f64>,
    /// `C` or `P`.
    pub right: Option<String>,
    /// Units of the underlying per contract.
    pub multiplier: Option<f64>,
    /// The leg's price per unit (IBKR's market price as last synced).
    pub market_price: Option<f64>,
    pub ratio: Option<f64>,
    /// This combo's share of the account's position in the leg.
    pub position: Option<f64>,
    pub avg_price: Option<f64>,
    pub market_value: Option<f64>,
    pub unrealized_pnl: Option<f64>,
    pub realized_pnl: Option<f64>,
}

fn instant(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

type SpreadColumns = (
    i32,
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    i64,
    i64,
    bool,
);

#[derive(sqlx::FromRow)]
struct SpreadLegColumns {
    combo_position_id: i32,
    con_id: i32,
    symbol: Option<String>,
    local_symbol: Option<String>,
    description: Option<String>,
    sec_type: Option<String>,
    last_trade_date: Option<String>,
    strike: Option<f64>,
    right: Option<String>,
    multiplier: Option<String>,
    market_price: Option<f64>,
    ratio: Option<f64>,
    position: Option<f64>,
    avg_price: Option<f64>,
    market_value: Option<f64>,
    unrealized_pnl: Option<f64>,
    realized_pnl: Option<f64>,
}

/// Leg facts from the positions table (the same account's row first), else IBKR's
/// description from the combo payload: `p.symbol`, `p.local_symbol`, `p.sec_type`,
/// `p.last_trade_date`, `p.strike`, `p."right"`, `p.multiplier`, `p.market_price`, and the
/// leg's `symbol` for filtering.
const LEG_FACTS: &str = "LEFT JOIN LATERAL (
        SELECT symbol, local_symbol, sec_type, last_trade_date, strike, \"right\", multiplier,
               market_price
          FROM positions p
         WHERE p.con_id = l.con_id ORDER BY (p.account_id = c.account_id) DESC, p.id LIMIT 1
    ) p ON true";

/// The spreads `filter` selects, native combos with their legs, by account then id.
pub async fn spreads(pool: &PgPool, filter: &SpreadFilter) -> Result<Vec<SpreadRow>, sqlx::Error> {
    let rows: Vec<SpreadColumns> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.id, c.account_id, COALESCE(a.alias, 'Account Alias ' || a.id), c.name,
                c.description, c.position, c.avg_price, c.market_value, c.unrealized_pnl,
                c.realized_pnl, (extract(epoch FROM c.fetched_at) * 1000)::bigint,
                (extract(epoch FROM c.updated_at) * 1000)::bigint, c.stale_at IS NOT NULL
           FROM combo_positions c JOIN accounts a ON a.id = c.account_id
          WHERE ($1::int IS NULL OR c.id = $1)
            AND ($2::int IS NULL OR c.account_id = $2)
            AND ($3 OR c.stale_at IS NULL)
            AND ($4::text IS NULL OR EXISTS (
                  SELECT 1 FROM combo_position_legs l {LEG_FACTS}
                   WHERE l.combo_position_id = c.id
                     AND upper(COALESCE(p.symbol, split_part(l.raw->>'contractDesc', ' ', 1)))
                         = upper($4)))
          ORDER BY c.account_id, c.id
          LIMIT $5"
    )))
    .bind(filter.id)
    .bind(filter.account_id)
    .bind(filter.include_stale)
    .bind(filter.symbol.as_deref())
    .bind(filter.limit)
    .fetch_all(pool)
    .await?;
    let ids: Vec<i32> = rows.iter().map(|r| r.0).collect();
    let legs: Vec<SpreadLegColumns> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.combo_position_id, l.con_id,
                COALESCE(p.symbol, NULLIF(split_part(l.raw->>'contractDesc', ' ', 1), ''))
                    AS symbol,
                p.local_symbol, l.raw->>'contractDesc' AS description,
                COALESCE(p.sec_type, l.raw->>'assetClass') AS sec_type, p.last_trade_date,
                p.strike, p.\"right\", p.multiplier,
                COALESCE(p.market_price, CASE WHEN jsonb_typeof(l.raw->'mktPrice') = 'number'
                                              THEN (l.raw->>'mktPrice')::float8 END)
                    AS market_price,
                l.ratio, l.position, l.avg_price, l.market_value, l.unrealized_pnl,
                l.realized_pnl
           FROM combo_position_legs l JOIN combo_positions c ON c.id = l.combo_position_id
           {LEG_FACTS}
          WHERE l.combo_position_id = ANY($1)
          ORDER BY l.combo_position_id, p.last_trade_date NULLS LAST, l.con_id"
    )))
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut by_combo: BTreeMap<i32, Vec<SpreadLeg>> = BTreeMap::new();
    for l in legs {
        by_combo
            .entry(l.combo_position_id)
            .or_default()
            .push(SpreadLeg {
                con_id: l.con_id,
                symbol: l.symbol,
                local_symbol: l.local_symbol,
                description: l
                    .description
                    .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")),
                sec_type: l.sec_type,
                last_trade_date: l.last_trade_date,
                strike: l.strike,
                right: l.right,
                multiplier: l
                    .multiplier
                    .and_then(|m| m.parse::<f64>().ok())
                    .filter(|m| *m > 0.0),
                market_price: l.market_price,
                ratio: l.ratio,
                position: l.position,
                avg_price: l.avg_price,
                market_value: l.market_value,
                unrealized_pnl: l.unrealized_pnl,
                realized_pnl: l.realized_pnl,
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| SpreadRow {
            id: r.0,
            account_id: r.1,
            account: r.2,
            name: r.3,
            description: r.4,
            position: r.5,
            avg_price: r.6,
            market_value: r.7,
            unrealized_pnl: r.8,
            realized_pnl: r.9,
            fetched_at: instant(r.10),
            updated_at: instant(r.11),
            stale: r.12,
            legs: by_combo.remove(&r.0).unwrap_or_default(),
        })
        .collect())
}

/// Every leg quantity the current (not stale) combos hold, with IBKR's PnL for that share,
/// per account and conid.
pub async fn current_leg_quantities(pool: &PgPool) -> Result<Vec<LegQuantity>, sqlx::Error> {
    let rows: Vec<(i32, i32, f64, Option<f64>)> = sqlx::query_as(
        "SELECT c.account_id, l.con_id, l.position, l.unrealized_pnl
           FROM combo_position_legs l JOIN combo_positions c ON c.id = l.combo_position_id
          WHERE c.stale_at IS NULL AND l.position IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(account_id, conid, quantity, unrealized_pnl)| {
            Some(LegQuantity {
                account_id,
                conid: ConId::new(i64::from(conid))?,
                quantity,
                unrealized_pnl,
            })
        })
        .collect())
}
