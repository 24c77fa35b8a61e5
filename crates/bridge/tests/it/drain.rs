//! The drain's way into PostgreSQL: `store::greeks::insert_records`, which copies a batch of
//! greeks rows in bulk, against the real server — a batch whose keys are partly stored already
//! (a replay after a crash) stores exactly the missing rows, and every value comes back as it
//! was sent, the ones text formats get wrong included.

use portfolio_bridge::domain::ids::{AccountCode, BridgeName};
use portfolio_bridge::greeks::record::{GreeksRecord, Record};
use portfolio_bridge::store::greeks::insert_records;
use sqlx::PgPool;

use crate::helpers::stored_greeks;

/// A greeks row at tick `i` (5 s apart) of `contract`, every figure set and told apart by `i`.
fn row(i: i64, contract: &str) -> GreeksRecord {
    let at_ms = 1_790_000_000_000 + i * 5000;
    let x = i as f64;
    GreeksRecord {
        key: format!("{at_ms}:{contract}"),
        at_ms,
        contract: contract.into(),
        delta: x + 0.5,
        gamma: x / 3.0,
        vega: 150.0 + x,
        theta: -80.0 - x,
        underlying_price: Some(71.4 + x),
        account: None,
        delta_dollars: Some(x * 35.7),
        gamma_dollars: Some(0.1 + 0.2 + x),
        vega_lt30: Some(50.0 + x),
        vega_30_90: Some(100.0),
        vega_gt90: Some(0.0),
        theta_lt30: Some(-60.0 - x),
        theta_30_90: Some(-20.0),
        theta_gt90: Some(-0.0),
        bridge: BridgeName::parse("drain-test"),
    }
}

fn records(rows: &[GreeksRecord]) -> Vec<Record> {
    rows.iter().cloned().map(Record::Greeks).collect()
}

/// Every stored greeks row, in the order stored, as a record again.
async fn stored(pool: &PgPool) -> Vec<GreeksRecord> {
    stored_greeks(pool, "ORDER BY id").await.expect("rows")
}

/// Exact equality, NaN and the sign of zero included: `Debug` prints every f64 so that it
/// reads back to the same bits.
fn exactly(records: &[GreeksRecord]) -> String {
    format!("{records:#?}")
}

#[sqlx::test]
async fn a_drain_batch_whose_keys_are_partly_stored_stores_exactly_the_missing_rows(pool: PgPool) {
    let batch: Vec<GreeksRecord> = (0..5)
        .map(|i| row(i, ["PORTFOLIO", "CL"][i as usize % 2]))
        .collect();
    // Rows 1 and 3 were stored by a drain that crashed before it moved its position; their
    // stored copies differ, so that a copy written over them would show.
    let mut first = [batch[1].clone(), batch[3].clone()];
    for r in &mut first {
        r.delta = -1.0;
    }
    insert_records(&pool, &records(&first))
        .await
        .expect("first");

    // The same key twice in one batch: the first is the one stored.
    let mut again = batch[4].clone();
    again.delta = 99.0;
    let mut replay = batch.clone();
    replay.push(again);
    insert_records(&pool, &records(&replay))
        .await
        .expect("replay");

    let expected = [
        first[0].clone(),
        first[1].clone(),
        batch[0].clone(),
        batch[2].clone(),
        batch[4].clone(),
    ];
    assert_eq!(exactly(&stored(&pool).await), exactly(&expected));

    // The same batch once more stores nothing, and the connections are fit for more.
    insert_records(&pool, &records(&replay))
        .await
        .expect("replay again");
    let next = row(5, "CL");
    insert_records(&pool, &records(std::slice::from_ref(&next)))
        .await
        .expect("next");
    let mut expected = expected.to_vec();
    expected.push(next);
    assert_eq!(exactly(&stored(&pool).await), exactly(&expected));
}

/// Rows whose values a text format could lose: no number, infinities, the sign of zero, the
/// smallest and largest floats, digits beyond the shortest decimal, NULLs; text with COPY's
/// special characters; times before 1970 and between whole seconds.
fn awkward(first: i64) -> Vec<GreeksRecord> {
    let mut a = row(first, "C\tL\\N");
    a.delta = f64::NAN;
    a.gamma = f64::INFINITY;
    a.vega = f64::NEG_INFINITY;
    a.theta = -0.0;
    a.underlying_price = None;
    a.account = AccountCode::parse("DU1234567");
    a.delta_dollars = Some(f64::MIN_POSITIVE);
    a.gamma_dollars = Some(5e-324);
    a.vega_lt30 = Some(f64::MAX);
    a.vega_30_90 = Some(f64::MIN);
    a.vega_gt90 = Some(1.0 / 3.0);
    a.theta_lt30 = None;
    a.theta_30_90 = Some(1e300);
    a.theta_gt90 = Some(123_456_789.123_456_78);
    let mut b = row(first + 1, "line\nbreak\r\\.");
    b.key = format!("{}:back\\slash\ttab", b.key);
    b.at_ms = -1_234;
    let mut c = row(first + 2, "CL");
    c.at_ms += 1;
    c.underlying_price = Some(f64::NAN);
    vec![a, b, c]
}

#[sqlx::test]
async fn every_value_round_trips_exactly_whether_copied_straight_in_or_through_the_staging_table(
    pool: PgPool,
) {
    // Into an empty table: copied straight in.
    let straight = awkward(0);
    insert_records(&pool, &records(&straight))
        .await
        .expect("straight");
    assert_eq!(exactly(&stored(&pool).await), exactly(&straight));

    // With one key stored already: through the staging table.
    let staged = awkward(10);
    let mut batch = vec![straight[1].clone()];
    batch.extend(staged.iter().cloned());
    insert_records(&pool, &records(&batch))
        .await
        .expect("staged");
    let mut expected = straight.clone();
    expected.extend(staged);
    assert_eq!(exactly(&stored(&pool).await), exactly(&expected));
}

#[sqlx::test]
async fn a_table_with_real_figures_takes_the_rows_converted(pool: PgPool) {
    // A table that predates the bridge may hold figures as `real`, which the schema check
    // accepts: a binary COPY of float8 cannot fill it, the staging table's way can.
    sqlx::raw_sql(
        "ALTER TABLE portfolio_greeks ALTER COLUMN vega TYPE real, \
         ALTER COLUMN theta_gt90 TYPE real",
    )
    .execute(&pool)
    .await
    .expect("alter");
    let batch = [row(0, "PORTFOLIO"), row(1, "CL")];
    insert_records(&pool, &records(&batch))
        .await
        .expect("stored");
    let stored: Vec<(String, f64, Option<f64>, f64)> = sqlx::query_as(
        "SELECT row_key, vega::float8, theta_gt90::float8, delta FROM portfolio_greeks ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    let expected: Vec<(String, f64, Option<f64>, f64)> = batch
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                f64::from(r.vega as f32),
                r.theta_gt90.map(|x| f64::from(x as f32)),
                r.delta,
            )
        })
        .collect();
    assert_eq!(stored, expected);
}
