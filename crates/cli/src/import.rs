//! `minyi import …`: reads a file on the server and hands it to one import use case of
//! `minyi_app` as the operator (audited as `cli`), then prints what was done.
//!
//! It must not parse or judge the file's contents itself (that is `minyi_app::geo` and
//! `minyi_core::geo`), and it prints codes and reasons only, never whole features.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use minyi_app::{App, Config};

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Area boundaries from a GeoJSON FeatureCollection (WGS-84 lon/lat): each feature's
    /// properties.code (or properties.area_code) names an existing area, its geometry a
    /// Polygon or MultiPolygon. Valid features are written together; unknown codes and
    /// broken features are listed, not fatal. See docs/geojson.md.
    Areas {
        /// The .geojson (or .json) file.
        file: PathBuf,
    },
    /// Opinions from a CSV or XLSX export (suggestion boxes, visits, questionnaires,
    /// forums, the grid platform, the microblog). Every row is checked; rejected rows are
    /// listed with row, column and reason on stderr and in FILE.rejected.csv; valid rows
    /// are written in batches; importing the same file again adds nothing. See
    /// docs/formats.md.
    Opinions {
        /// The .csv (UTF-8) or .xlsx file.
        file: PathBuf,
        /// The channel of rows whose `channel` cell is empty (or that have no such column).
        #[arg(long)]
        channel: Option<String>,
        /// Check every row and count what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(config: Config, c: &ImportCommand) -> anyhow::Result<()> {
    match c {
        ImportCommand::Areas { file } => areas(config, file).await,
        ImportCommand::Opinions {
            file,
            channel,
            dry_run,
        } => opinions(config, file, channel.as_deref(), *dry_run).await,
    }
}

async fn areas(config: Config, file: &PathBuf) -> anyhow::Result<()> {
    let shown = file.display();
    // Read before opening the store, so a mistyped path costs nothing and says so.
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{shown} is not UTF-8 text; GeoJSON is UTF-8"))?;
    minyi_app::require_existing_store(&config)?;
    let app = App::open(config).await?;
    let report = minyi_app::geo::import_areas_geojson(&app, &text, "cli", chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    println!(
        "{shown}: {} features; updated {} area boundaries",
        report.features, report.updated
    );
    if !report.unknown_codes.is_empty() {
        println!(
            "unknown area codes ({}, skipped): {}",
            report.unknown_codes.len(),
            report.unknown_codes.join(", ")
        );
    }
    if !report.rejected.is_empty() {
        println!("rejected features ({}):", report.rejected.len());
        for r in &report.rejected {
            let code = r.code.as_deref().unwrap_or("(no code)");
            println!("  features[{}] {code}: {}", r.index, one_line(&r.reason));
        }
    }
    app.store.close().await;
    if report.updated == 0 {
        bail!("{shown}: no valid boundary for a known area was found; nothing was imported");
    }
    Ok(())
}

/// Reasons come from parsers and may quote input; keep each on its own line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rejected rows shown on stderr; the rest are in the report file.
const SHOWN_REJECTIONS: usize = 20;

async fn opinions(
    config: Config,
    file: &Path,
    channel: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let shown = file.display();
    let channel = channel
        .map(minyi_app::import::parse_default_channel)
        .transpose()?;
    // Read and check the header before opening the store, so a wrong file costs nothing.
    let table = minyi_app::import::read_table(file)?;
    minyi_app::import::layout(&table.header, channel)
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    minyi_app::require_existing_store(&config)?;
    let app = App::open(config).await?;
    let bar = progress_bar(table.rows.len() as u64);
    let report = minyi_app::import::import_opinions(
        &app,
        &table,
        channel,
        dry_run,
        "cli",
        chrono::Utc::now(),
        &|n| bar.set_position(n as u64),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{shown}: {e}"));
    bar.finish_and_clear();
    app.store.close().await;
    let report = report?;

    let rejected_file = rejected_path(file);
    if report.rejected.is_empty() {
        // A report from an earlier run would now be misleading.
        let _ = std::fs::remove_file(&rejected_file);
    } else {
        write_rejected(&rejected_file, &report.rejected)
            .with_context(|| format!("cannot write {}", rejected_file.display()))?;
        for r in report.rejected.iter().take(SHOWN_REJECTIONS) {
            eprintln!("rejected: {}", one_line(&r.to_string()));
        }
        if report.rejected.len() > SHOWN_REJECTIONS {
            eprintln!(
                "… and {} more rejected rows",
                report.rejected.len() - SHOWN_REJECTIONS
            );
        }
        eprintln!(
            "rejected rows ({}) are listed in {}",
            report.rejected.len(),
            rejected_file.display()
        );
    }
    let verb = if dry_run { "would import" } else { "imported" };
    println!(
        "{shown}: {} rows; {verb} {} opinions ({} with a contact); {} already present; {} rejected{}",
        report.rows,
        report.created,
        report.with_contact,
        report.existing,
        report.rejected.len(),
        if dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    );
    if !report.ignored_columns.is_empty() {
        println!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    if report.created + report.existing == 0 && !report.rejected.is_empty() {
        bail!("{shown}: no row was valid; nothing was imported");
    }
    Ok(())
}

/// `FILE.rejected.csv` beside the input.
fn rejected_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".rejected.csv");
    file.with_file_name(name)
}

fn write_rejected(path: &Path, rows: &[minyi_app::import::RowError]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["row", "column", "reason"])?;
    for r in rows {
        w.write_record([r.row.to_string(), r.column.clone(), one_line(&r.reason)])?;
    }
    w.flush()?;
    Ok(())
}

/// A bar on stderr when it is a terminal; hidden otherwise (pipes, logs, tests).
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed} ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}
