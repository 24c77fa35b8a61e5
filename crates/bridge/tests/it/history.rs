//! The greeks history over years: an existing unpartitioned `portfolio_greeks` partitioned by
//! the real `greeks partition` command while the writer keeps writing (no row lost, none
//! doubled), 1-minute rollups (last, min, max), retention that drops whole days but never a
//! row whose minute is not rolled up, and long reads served from the rollups.

use jiff::{SignedDuration, Timestamp};
use portfolio_bridge::domain::ids::BridgeName;
use portfolio_bridge::greeks::record::{GreeksRecord, Record};
use portfolio_bridge::store::greeks::{Resolution, Whose, insert_records, series_of};
use portfolio_bridge::store::partitions::{self, Layout};
use portfolio_bridge::store::{self, history};
use sqlx::PgPool;

use crate::helpers::{Bridge, database_url_of, portfolio_row};

/// 2026-11-20T00:00:00Z.
const T0: i64 = 1_795_132_800_000;

fn bridge() -> BridgeName {
    BridgeName::parse("history-test").expect("valid")
}

fn row(at_ms: i64, delta: f64) -> GreeksRecord {
    portfolio_row("history-test", at_ms, delta)
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

#[sqlx::test(migrations = false)]
async fn an_existing_table_is_partitioned_while_the_writer_writes_and_no_row_is_lost(pool: PgPool) {
    // The existing application's table with three days of rows, half without a key.
    sqlx::raw_sql(
        r#"CREATE TABLE portfolio_greeks (
               id BIGSERIAL PRIMARY KEY, "timestamp" TIMESTAMPTZ NOT NULL, contract TEXT NOT NULL,
               delta DOUBLE PRECISION, gamma DOUBLE PRECISION, vega DOUBLE PRECISION,
               theta DOUBLE PRECISION, underlying_price DOUBLE PRECISION);
           INSERT INTO portfolio_greeks ("timestamp", contract, delta, gamma, vega, theta)
           SELECT to_timestamp(1795132800 + n * 6), 'PORTFOLIO', n, 0, 0, 0
             FROM generate_series(0, 44999) AS n"#,
    )
    .execute(&pool)
    .await
    .expect("the old table");
    let report = store::migrate(&pool).await.expect("migrate");
    assert_eq!(report.greeks_layout, Layout::Unpartitioned);
    assert!(
        report
            .greeks_advice()
            .is_some_and(|a| a.contains("portfolio-bridge greeks partition")),
        "{report:?}"
    );
    // Keys for half of them, as an earlier bridge wrote.
    sqlx::query(
        r#"UPDATE portfolio_greeks
              SET row_key = ((extract(epoch FROM "timestamp") * 1000)::bigint)::text
                            || '@history-test:PORTFOLIO'
            WHERE id % 2 = 0"#,
    )
    .execute(&pool)
    .await
    .expect("keys");
    let replayed: (i64, String) = sqlx::query_as(
        r#"SELECT (extract(epoch FROM "timestamp") * 1000)::bigint, row_key
             FROM portfolio_greeks WHERE row_key IS NOT NULL ORDER BY id LIMIT 1"#,
    )
    .fetch_one(&pool)
    .await
    .expect("a keyed row");
    let ids_before = count(&pool, "SELECT sum(id)::bigint FROM portfolio_greeks").await;

    // The writer keeps writing (new ticks, and a replay of a stored row) while the command
    // converts the table.
    let now = Timestamp::now().as_millisecond();
    let writer = {
        let pool = pool.clone();
        let replay = row(replayed.0, -1.0);
        assert_eq!(replay.key, replayed.1);
        tokio::spawn(async move {
            for batch in 0..40 {
                let mut records: Vec<Record> = (0..10)
                    .map(|i| Record::Greeks(row(now + (batch * 10 + i) * 5000, 1.0)))
                    .collect();
                if batch == 20 {
                    records.push(Record::Greeks(replay.clone()));
                }
                insert_records(&pool, &records).await.expect("written");
            }
        })
    };
    let url = database_url_of(&pool).await;
    let run = Bridge::new()
        .env("DATABASE_URL", &url)
        .run_off_runtime(&["greeks", "partition"])
        .await;
    writer.await.expect("the writer");
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(run.stdout().contains("none lost"), "{}", run.stdout());

    let mut conn = pool.acquire().await.expect("conn");
    assert_eq!(
        partitions::layout(&mut conn).await.expect("layout"),
        Layout::Partitioned { moving: false }
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks").await,
        45_000 + 400,
        "every old row and every written row, the replay once"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM (SELECT row_key FROM portfolio_greeks WHERE row_key IS NOT \
             NULL GROUP BY row_key HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT sum(id)::bigint FROM portfolio_greeks WHERE \"timestamp\" < '2026-11-24'"
        )
        .await,
        ids_before,
        "the old rows keep their ids"
    );
    // Each old day is in its own partition, not in the default one.
    for day in ["20261120", "20261121", "20261122", "20261123"] {
        let name = format!("portfolio_greeks_p{day}");
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {name}")))
                .fetch_one(&pool)
                .await
                .expect(&name);
        assert!(n > 0, "{name}");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks_default").await,
        0
    );
    // Migrating again advises nothing.
    let again = store::migrate(&pool).await.expect("migrate");
    assert_eq!(again.greeks_advice(), None);
}

#[sqlx::test(migrations = false)]
async fn rollups_keep_each_minute_and_retention_drops_only_what_is_rolled_up(pool: PgPool) {
    let report = store::migrate(&pool).await.expect("migrate");
    assert!(report.partitioned, "a new database is partitioned at once");
    let day = |d: i64| T0 + d * 86_400_000;
    partitions::make_days(
        &pool,
        &(0..=40)
            .map(|d| partitions::utc_day(Timestamp::from_millisecond(day(d)).expect("valid")))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("partitions");
    // Day 0: one minute of ticks (deltas 3, 9, 1, ... last 4); day 40: "today".
    let deltas = [3.0, 9.0, 1.0, 5.0, 2.0, 4.0];
    let first: Vec<Record> = deltas
        .iter()
        .enumerate()
        .map(|(i, d)| Record::Greeks(row(day(0) + i as i64 * 5000, *d)))
        .chain((0..12).map(|i| Record::Greeks(row(day(40) + i * 5000, 7.0))))
        .collect();
    insert_records(&pool, &first).await.expect("written");
    let rolled = history::roll_up_pending(&pool).await.expect("rolled up");
    assert_eq!(rolled.minutes, 2);
    let (n, last, lo, hi): (i32, f64, f64, f64) = sqlx::query_as(
        "SELECT n_rows, delta, delta_min, delta_max FROM portfolio_greeks_1m
          WHERE bucket = to_timestamp($1::double precision / 1000)",
    )
    .bind(day(0))
    .fetch_one(&pool)
    .await
    .expect("day 0's minute");
    assert_eq!((n, last, lo, hi), (6, 4.0, 1.0, 9.0));

    // Day 1's rows arrive late (a spool drained after an outage) and are not rolled up yet:
    // retention keeps them, and everything after the oldest pending range.
    insert_records(&pool, &[Record::Greeks(row(day(1), 8.0))])
        .await
        .expect("late row");
    let keep_from = Timestamp::from_millisecond(day(10)).expect("valid");
    let dropped = history::drop_raw_before(&pool, keep_from)
        .await
        .expect("retention");
    assert_eq!(dropped.partitions, ["portfolio_greeks_p20261120"]);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM portfolio_greeks WHERE delta = 8"
        )
        .await,
        1,
        "a row whose minute is not rolled up is kept"
    );
    history::roll_up_pending(&pool).await.expect("rolled up");
    let dropped = history::drop_raw_before(&pool, keep_from)
        .await
        .expect("retention");
    assert!(
        dropped
            .partitions
            .contains(&"portfolio_greeks_p20261121".to_owned()),
        "{dropped:?}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks").await,
        12,
        "only the rows retention keeps"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks_1m").await,
        3,
        "rollups are kept for good"
    );

    // A 41-day read comes from the rollups: the dropped days are there, a minute a point.
    let me = bridge();
    let from = Timestamp::from_millisecond(day(0)).expect("valid");
    let to = Timestamp::from_millisecond(day(41)).expect("valid");
    assert_eq!(Resolution::for_window(from, to), Resolution::Minute);
    let points = series_of(
        &pool,
        (Whose::AllAccounts(&me), Resolution::Minute),
        "PORTFOLIO",
        from,
        to,
        100,
    )
    .await
    .expect("read");
    let got: Vec<(i64, Option<f64>)> = points
        .iter()
        .map(|p| (p.timestamp.as_millisecond(), p.delta))
        .collect();
    assert_eq!(
        got,
        [
            (day(0), Some(4.0)),
            (day(1), Some(8.0)),
            (day(40), Some(7.0))
        ]
    );
    let merged = series_of(
        &pool,
        (Whose::AllBridges, Resolution::Minute),
        "PORTFOLIO",
        from,
        to,
        100,
    )
    .await
    .expect("read");
    assert_eq!(merged, points, "one bridge merged is itself");
    // A row of a day without a partition waits in the default one; making the day's
    // partition moves it there.
    insert_records(&pool, &[Record::Greeks(row(day(45), 2.0))])
        .await
        .expect("a row of day 45");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks_default").await,
        1
    );
    let day_45 = partitions::utc_day(Timestamp::from_millisecond(day(45)).expect("valid"));
    let made = partitions::make_days(&pool, &[day_45]).await.expect("made");
    assert_eq!(made, ["portfolio_greeks_p20270104"]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks_default").await,
        0
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM portfolio_greeks_p20270104").await,
        1
    );
    let one_day = to
        .saturating_sub(SignedDuration::from_hours(24))
        .expect("valid");
    assert_eq!(Resolution::for_window(one_day, to), Resolution::Raw);
}
