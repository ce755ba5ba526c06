//! `minyi bench …`: each benchmark measures its baseline in the same run and ends with
//! one `RESULT <name> minyi=<v> baseline=<v> ratio=<r>` line (higher ratio is better).

use std::time::Instant;

use clap::Subcommand;
use minyi_core::opinion::{NewOpinion, TrackingCode};
use minyi_demo::{Volumes, default_period};
use minyi_store::{InsertOutcome, Store};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Bulk insert of opinions: minyi's path against a bare SQLite insert loop.
    Insert {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Directory for the two scratch databases (removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Prepares `bench/import.sh`'s incident run in DIR: a store with a small city, a CSV
    /// of incident rows, and the bare SQLite insert loop's rate on the same incidents.
    ImportIncidents {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long)]
        dir: std::path::PathBuf,
    },
}

pub async fn run(cmd: &BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Insert { rows, dir } => insert(*rows, dir.clone()).await,
        BenchCommand::ImportIncidents { rows, dir } => {
            crate::import::bench_incidents(*rows, dir).await
        }
    }
}

/// The same synthetic rows for both sides: demo texts, no foreign keys.
fn rows(n: usize) -> anyhow::Result<Vec<NewOpinion>> {
    let calendar = minyi_core::calendar::Calendar::cn_mainland()?;
    let volumes = Volumes {
        opinions: n,
        ratings: 0,
        incidents: 0,
        cases: 0,
        permits: 0,
    };
    let (_, activity) = minyi_demo::generate(99, &calendar, &default_period(), volumes);
    activity
        .opinions
        .iter()
        .enumerate()
        .map(|(i, o)| {
            // Distinct codes by construction, so neither side meets a collision.
            let mut row = o.to_new(TrackingCode::from_bits(i as u64), None, None, None)?;
            row.client_key = Some(format!("bench-{i}"));
            Ok(row)
        })
        .collect()
}

async fn insert(n: usize, dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let n = n.max(1);
    let base = dir
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("minyi-bench-insert-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let rows = rows(n)?;
    let text_bytes: usize = rows.iter().map(|r| r.text.as_str().len()).sum();
    println!(
        "bench insert: {n} synthetic opinion rows (avg {} bytes of text), SQLite file, WAL, synchronous=FULL",
        text_bytes / n
    );
    println!(
        "units: rows per second (higher is better); both sides start from an empty, migrated database"
    );

    // Baseline: the schema made by the store, then the bare driver loop.
    let bare_path = base.join("bare.db");
    Store::open(&format!("sqlite://{}", bare_path.display()))
        .await?
        .close()
        .await;
    let bare = minyi_store::baseline::bare_sqlite_insert(&bare_path, &rows).await?;
    let bare_rate = n as f64 / bare.as_secs_f64();
    println!(
        "baseline: sqlx SqliteConnection, one prepared single-row INSERT per row, one transaction: {bare_rate:.0} rows/s ({:.3} s)",
        bare.as_secs_f64()
    );

    let store = Store::open(&format!("sqlite://{}", base.join("minyi.db").display())).await?;
    let started = Instant::now();
    let out = store.insert_opinions(&rows, "bench").await?;
    let took = started.elapsed();
    store.close().await;
    let created = out
        .iter()
        .filter(|o| matches!(o, InsertOutcome::Created(_)))
        .count();
    anyhow::ensure!(created == n, "minyi stored {created} of {n} rows");
    let rate = n as f64 / took.as_secs_f64();
    println!(
        "minyi:    Store::insert_opinions (Any driver, multi-row INSERTs, plus one 'receive' event row per opinion), one transaction: {rate:.0} rows/s ({:.3} s)",
        took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&base);
    println!(
        "RESULT insert minyi={rate:.0} baseline={bare_rate:.0} ratio={:.2}",
        rate / bare_rate
    );
    Ok(())
}
