//! The greeks history at scale: N generated `portfolio_greeks` rows (100,000,000 unless
//! `PB_BENCH_HISTORY_ROWS` says otherwise) in a database the bridge migrated (partitioned by
//! day, rolled up into minutes) and the same rows in the layout before partitioning (one
//! table, migrations only), one after the other so that each has the disk and the cache to
//! itself. The reads are `store::greeks::series_of` and `series_binned`, the statements
//! `GET /api/v1/greeks` and the page run, timed many times over the same windows on both.
//!
//! Rows: 20 series (PORTFOLIO and four underlyings, every account together and three accounts
//! each) at 5 s, ending now, so the span is N / 20 ticks.

use std::time::Instant;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use portfolio_bridge::domain::ids::BridgeName;
use portfolio_bridge::store::greeks::{Resolution, Whose, series_binned, series_of};
use portfolio_bridge::store::{self, history, partitions};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::Env;
use crate::procs::fresh_database;
use crate::report::Figure;
use crate::stats::percentile;

const SERIES: i64 = 20;
const BRIDGE: &str = "bench";
/// Reads per window and layout.
const READS: usize = 200;
/// Disk the larger layout takes per generated row, rollups and indexes included (100,000,000
/// rows took 42.4 GiB partitioned and 36.5 GiB unpartitioned), with a margin for the WAL.
const BYTES_PER_ROW: u64 = 520;

fn rows() -> i64 {
    std::env::var("PB_BENCH_HISTORY_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000_000)
}

/// Inserts ticks `first..last` (5 s apart, ending at `end_s`) of every series.
async fn generate(pool: &PgPool, end_s: i64, first: i64, last: i64) -> anyhow::Result<()> {
    sqlx::query(
        r#"INSERT INTO portfolio_greeks ("timestamp", contract, account, bridge, row_key, delta,
               gamma, vega, theta, underlying_price, delta_dollars, gamma_dollars, vega_lt30,
               vega_30_90, vega_gt90, theta_lt30, theta_30_90, theta_gt90)
           SELECT to_timestamp($1 - t * 5), c, a, 'bench',
                  (($1 - t * 5) * 1000)::text || '@bench:' || COALESCE(a || ':', '') || c,
                  sin(t / 100.0) * 50, 0.01, 150 + t % 7, -80, 71.4, sin(t / 100.0) * 3570, 12,
                  50, 100, 0, -60, -20, 0
             FROM generate_series($2::bigint, $3::bigint - 1) AS t,
                  unnest(ARRAY['PORTFOLIO', 'CL', 'ES', 'NQ', 'GC']) AS c,
                  unnest(ARRAY[NULL, 'U1', 'U2', 'U3']) AS a"#,
    )
    .bind(end_s)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await?;
    Ok(())
}

/// Fills `pool`'s `portfolio_greeks` with `n` rows ending at `end_s`, a day at a time.
async fn fill(pool: &PgPool, n: i64, end_s: i64, what: &str) -> anyhow::Result<f64> {
    let ticks = n / SERIES;
    let per_day = 86_400 / 5;
    let started = Instant::now();
    let mut t = 0;
    while t < ticks {
        let to = (t + per_day).min(ticks);
        generate(pool, end_s, t, to).await?;
        t = to;
        eprintln!("{what}: {} of {n} rows", t * SERIES);
    }
    sqlx::query("VACUUM ANALYZE portfolio_greeks")
        .execute(pool)
        .await?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn pool_of(url: &str) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new().max_connections(2).connect(url).await?)
}

/// One read of PORTFOLIO's series up to `to`: the newest `limit` points of `window`, or with
/// a `bucket` the window drawn at that resolution, as the page draws it.
#[derive(Clone, Copy)]
struct Read {
    resolution: Resolution,
    window: SignedDuration,
    limit: i64,
    bucket: Option<std::time::Duration>,
}

impl Read {
    async fn once(self, pool: &PgPool, to: Timestamp) -> anyhow::Result<usize> {
        let bridge = BridgeName::parse(BRIDGE).context("name")?;
        let from = to.checked_sub(self.window)?;
        let whose = (Whose::AllAccounts(&bridge), self.resolution);
        let points = match self.bucket {
            None => series_of(pool, whose, "PORTFOLIO", from, to, self.limit).await?,
            Some(b) => series_binned(pool, whose, "PORTFOLIO", from, to, b).await?,
        };
        Ok(points.len())
    }
}

/// The p99 (ms) of [`READS`] reads of each of `reads` on `pool`, taken in turn after 20
/// warm-up reads of each; and the points each gave.
async fn p99s(pool: &PgPool, reads: &[Read], to: Timestamp) -> anyhow::Result<Vec<(f64, usize)>> {
    for _ in 0..20 {
        for r in reads {
            r.once(pool, to).await?;
        }
    }
    let mut times = vec![Vec::new(); reads.len()];
    let mut points = vec![0; reads.len()];
    for _ in 0..READS {
        for (i, r) in reads.iter().enumerate() {
            let started = Instant::now();
            points[i] = r.once(pool, to).await?;
            times[i].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(times
        .iter_mut()
        .zip(points)
        .map(|(t, p)| (percentile(t, 99.0), p))
        .collect())
}

/// Disk the greeks tables of `pool` take, in GiB.
async fn size_gib(pool: &PgPool) -> anyhow::Result<f64> {
    let bytes: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
          WHERE c.relname LIKE 'portfolio_greeks%' AND c.relkind IN ('r', 'p')",
    )
    .fetch_one(pool)
    .await?;
    Ok(bytes as f64 / f64::from(1 << 30))
}

/// Refuses to start what would fill the disk under PostgreSQL (which then stops writing,
/// half-way through a long run).
async fn enough_disk(pool: &PgPool, n: i64) -> anyhow::Result<()> {
    let dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(pool)
        .await?;
    let df = std::process::Command::new("df")
        .args(["-Pk", &dir])
        .output()
        .context("df")?;
    let free_kib: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("reading df's answer for {dir}"))?;
    let need_kib = n.unsigned_abs() * BYTES_PER_ROW / 1024;
    let gib = |kib: u64| kib as f64 / f64::from(1 << 20);
    anyhow::ensure!(
        need_kib < free_kib,
        "the greeks history of {n} rows needs about {:.0} GiB for its larger layout and {dir} has \
         {:.0} GiB free: set PB_BENCH_HISTORY_ROWS lower (each 10,000,000 rows take about \
         {:.1} GiB)",
        gib(need_kib),
        gib(free_kib),
        gib(10_000_000 * BYTES_PER_ROW / 1024),
    );
    Ok(())
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Figure>> {
    let n = rows();
    let end = Timestamp::now();
    let end_s = end.as_second();
    let span_days = (n / SERIES * 5) as f64 / 86_400.0;
    let day = SignedDuration::from_hours(24);
    let month = SignedDuration::from_hours(24 * 30);
    let read = |resolution, window, limit, bucket| Read {
        resolution,
        window,
        limit,
        bucket,
    };
    // The page's chart of a window: 2,000 stretches.
    let bucket = Some(std::time::Duration::from_secs(30 * 86_400 / 2000));
    let raw_day = read(Resolution::Raw, day, 2000, None);
    let raw_month = read(Resolution::Raw, month, 20_000, None);

    // One layout at a time, each alone on the disk and in the cache: the layout before
    // partitioning first (one table, as the migrations alone make it), dropped before the
    // bridge's is made. Both databases are emptied first, so that a previous run's rows are
    // gone before the disk is measured.
    let flat_url = fresh_database(env, "pb_bench_history_flat").await?;
    let parted_url = fresh_database(env, "pb_bench_history").await?;
    let flat = pool_of(&flat_url).await?;
    enough_disk(&flat, n).await?;
    store::MIGRATOR.run(&flat).await?;
    let insert_flat = fill(&flat, n, end_s, "unpartitioned").await?;
    let flat_p99 = p99s(
        &flat,
        &[raw_day, raw_month, read(Resolution::Raw, month, 0, bucket)],
        end,
    )
    .await?;
    let size_flat = size_gib(&flat).await?;
    flat.close().await;
    fresh_database(env, "pb_bench_history_flat").await?;

    // The bridge's layout: migrated (partitioned), a partition per day, rolled up.
    let parted = pool_of(&parted_url).await?;
    store::migrate(&parted).await?;
    let first_day =
        partitions::utc_day(end.checked_sub(SignedDuration::from_secs((n / SERIES * 5) + 86_400))?);
    let mut days = Vec::new();
    let mut d = first_day;
    while d <= partitions::utc_day(end) {
        days.push(d);
        d = d.tomorrow()?;
    }
    partitions::make_days(&parted, &days).await?;
    let insert_parted = fill(&parted, n, end_s, "partitioned").await?;
    sqlx::query(
        r#"INSERT INTO greeks_rollup_pending (lo, hi)
           SELECT min("timestamp"), max("timestamp") FROM portfolio_greeks"#,
    )
    .execute(&parted)
    .await?;
    let started = Instant::now();
    history::roll_up_pending(&parted).await?;
    let rollup_rate = n as f64 / started.elapsed().as_secs_f64();
    sqlx::query("VACUUM ANALYZE portfolio_greeks_1m")
        .execute(&parted)
        .await?;
    let parted_p99 = p99s(
        &parted,
        &[
            raw_day,
            raw_month,
            read(Resolution::Minute, month, 20_000, None),
            read(Resolution::Minute, month, 0, bucket),
        ],
        end,
    )
    .await?;
    let size_parted = size_gib(&parted).await?;

    let [
        (day_parted, day_points),
        (month_raw_parted, month_raw_points),
        (month_parted, month_points),
        (chart_parted, chart_points),
    ] = parted_p99[..]
    else {
        anyhow::bail!("four reads, four figures");
    };
    let [
        (day_flat, _),
        (month_raw_flat, _),
        (chart_flat, chart_flat_points),
    ] = flat_p99[..]
    else {
        anyhow::bail!("three reads, three figures");
    };
    // GET /api/v1/greeks on the table before partitioning reads 5-second rows for any window.
    let month_flat = month_raw_flat;
    let setting = format!(
        "{n} generated rows ({SERIES} series at 5 s, {span_days:.1} days ending at the run; \
         PB_BENCH_HISTORY_ROWS): the bridge's layout (partitioned by day, rolled up; \
         {size_parted:.1} GiB with the rollups) against one unpartitioned table \
         ({size_flat:.1} GiB), each alone on the server (the unpartitioned one first, dropped \
         before the other is made). `series_of` as GET /api/v1/greeks calls it, {READS} reads \
         of each kind in turn after 20 warm-up reads of each",
    );
    Ok(vec![
        Figure {
            what: "Greeks read, 1 day (raw) p99",
            value: day_parted,
            unit: "ms",
            reference: Some(("unpartitioned", day_flat)),
            target: "no slower than unpartitioned",
            met: Some(day_parted <= day_flat * 1.1),
            runs: vec![day_parted],
            note: format!("{setting}: the newest 2,000 points ({day_points}) of the last day."),
        },
        Figure {
            what: "Greeks read, 30 days (raw) p99",
            value: month_raw_parted,
            unit: "ms",
            reference: Some(("unpartitioned", month_raw_flat)),
            target: "no slower than unpartitioned",
            met: Some(month_raw_parted <= month_raw_flat * 1.1),
            runs: vec![month_raw_parted],
            note: format!(
                "The newest 20,000 5-second points ({month_raw_points}) of the last 30 days, \
                 `resolution=raw`."
            ),
        },
        Figure {
            what: "Greeks read, 30 days (API default: 1-minute rollups) p99",
            value: month_parted,
            unit: "ms",
            reference: Some(("unpartitioned, raw", month_flat)),
            target: "no slower than unpartitioned",
            met: Some(month_parted <= month_flat * 1.1),
            runs: vec![month_parted],
            note: format!(
                "What GET /api/v1/greeks reads by default for a window longer than a day: the \
                 newest 20,000 minutes ({month_points} points, {:.1} days) from the rollups, \
                 against the same call on the unpartitioned table, which has only 5-second rows \
                 (20,000 of them: {:.1} hours).",
                month_points as f64 / 1440.0,
                20_000.0 * 5.0 / 3600.0
            ),
        },
        Figure {
            what: "Greeks chart, 30 days at 2,000 points p99",
            value: chart_parted,
            unit: "ms",
            reference: Some(("unpartitioned, raw", chart_flat)),
            target: "—",
            met: None,
            runs: vec![chart_parted],
            note: format!(
                "The whole 30 days as the page draws a window (the last point of each \
                 1,296-second stretch: {chart_points} points) from the rollups, against the \
                 same drawing from the 5-second rows of the unpartitioned table \
                 ({chart_flat_points} points)."
            ),
        },
        Figure {
            what: "Greeks insert, generated rows",
            value: insert_parted,
            unit: "rows/s",
            reference: Some(("unpartitioned", insert_flat)),
            target: "unchanged",
            met: Some(insert_parted >= insert_flat * 0.9),
            runs: vec![insert_parted],
            note: format!(
                "INSERT … SELECT of a day of ticks per statement, with every index; the \
                 writer's own path is the spool drain above (migrated, partitioned). Rollup \
                 of all of them afterwards: {rollup_rate:.0} rows/s."
            ),
        },
    ])
}
