//! `minyi import …`: reads a file on the server and hands it to one import use case of
//! `minyi_app` as the operator (audited as `cli`), then prints what was done.
//!
//! It must not parse or judge the file's contents itself (that is `minyi_app::geo` and
//! `minyi_core::geo`), and it prints codes and reasons only, never whole features.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use minyi_app::records::{ImportOptions, RecordKind};
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
    /// 110 incidents from a CSV or XLSX export of the command system: one row per call
    /// (or per update of a call), idempotent on external_id. A later row for a stored
    /// incident closes or resolves it (as events); the same row again changes nothing.
    /// Rejected rows go to FILE.rejected.csv, flagged rows (no phone) to
    /// FILE.flagged.csv. See docs/formats.md.
    Incidents(RecordArgs),
    /// Cases: a later row for a stored case files it, assigns an investigator, records a
    /// suspect caught, solves it, recovers a loss or closes it (as events).
    Cases(RecordArgs),
    /// Permit transactions: a later row for a stored one records its issue (as an event).
    Permits(RecordArgs),
}

#[derive(clap::Args)]
pub struct RecordArgs {
    /// The .csv (UTF-8) or .xlsx file.
    file: PathBuf,
    /// Check every row against the stored records and count what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(config: Config, c: &ImportCommand) -> anyhow::Result<()> {
    match c {
        ImportCommand::Areas { file } => areas(config, file).await,
        ImportCommand::Opinions {
            file,
            channel,
            dry_run,
        } => opinions(config, file, channel.as_deref(), *dry_run).await,
        ImportCommand::Incidents(a) => records(config, RecordKind::Incidents, a).await,
        ImportCommand::Cases(a) => records(config, RecordKind::Cases, a).await,
        ImportCommand::Permits(a) => records(config, RecordKind::Permits, a).await,
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
    beside(file, ".rejected.csv")
}

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    file.with_file_name(name)
}

/// Writes the rows to `path` and shows the first few on stderr; removes a stale file
/// when there are none.
fn list_rows(path: &Path, what: &str, rows: &[minyi_app::import::RowError]) -> anyhow::Result<()> {
    if rows.is_empty() {
        // A report from an earlier run would now be misleading.
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    write_rejected(path, rows).with_context(|| format!("cannot write {}", path.display()))?;
    for r in rows.iter().take(SHOWN_REJECTIONS) {
        eprintln!("{what}: {}", one_line(&r.to_string()));
    }
    if rows.len() > SHOWN_REJECTIONS {
        eprintln!("… and {} more {what} rows", rows.len() - SHOWN_REJECTIONS);
    }
    eprintln!(
        "{what} rows ({}) are listed in {}",
        rows.len(),
        path.display()
    );
    Ok(())
}

async fn records(config: Config, kind: RecordKind, a: &RecordArgs) -> anyhow::Result<()> {
    let file = a.file.as_path();
    let shown = file.display();
    // Open and check the header before opening the store, so a wrong file costs nothing.
    let (header, rows, estimate) = minyi_app::records::open_file(file)?;
    minyi_app::records::layout(kind, &header).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    minyi_app::require_existing_store(&config)?;
    let app = App::open(config).await?;
    let bar = progress_bar(estimate as u64);
    let opts = ImportOptions {
        actor: "cli".into(),
        scope: None,
        dry_run: a.dry_run,
    };
    let report = minyi_app::records::import_rows(
        &app,
        kind,
        &header,
        rows,
        &opts,
        chrono::Utc::now(),
        &|n| bar.set_position(n as u64),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{shown}: {e}"));
    bar.finish_and_clear();
    app.store.close().await;
    let report = report?;
    list_rows(&rejected_path(file), "rejected", &report.rejected)?;
    list_rows(&beside(file, ".flagged.csv"), "flagged", &report.flagged)?;
    let verb = if a.dry_run { "would create" } else { "created" };
    println!(
        "{shown}: {} rows; {verb} {} {}, changed {}, {} unchanged; {} events, {} contacts; {} rejected, {} flagged{}",
        report.rows,
        report.created,
        kind.code(),
        report.changed,
        report.unchanged,
        report.events,
        report.contacts,
        report.rejected.len(),
        report.flagged.len(),
        if a.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    );
    if !report.ignored_columns.is_empty() {
        println!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    if report.created + report.changed + report.unchanged == 0 && !report.rejected.is_empty() {
        bail!("{shown}: no row was valid; nothing was imported");
    }
    Ok(())
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

/// Stations of the benchmark city; incident rows cycle through them.
const BENCH_STATIONS: usize = 20;

/// `minyi bench import-incidents`: prepares what `bench/import.sh` times. In `dir`: a data
/// directory `data/` whose store holds a small city (one bureau, one county, 20
/// stations), `incidents.csv` with `rows` incident rows (every one a new police-system
/// record with a caller's name and phone, half of them closed), and the bare SQLite loop
/// inserting the same incidents into `bare.db` with the same units, whose rate it prints
/// as `BASELINE incidents rows_per_s=<r>`.
pub async fn bench_incidents(rows: usize, dir: &Path) -> anyhow::Result<()> {
    use minyi_core::Code;
    use minyi_core::org::{NewUnit, UnitKind};
    use minyi_core::records::NewIncident;
    use minyi_core::taxonomy::{Category, DepartmentKind};
    use std::io::Write;

    let rows = rows.max(1);
    std::fs::create_dir_all(dir)?;
    let code = |s: String| Code::parse(&s).map_err(|e| anyhow::anyhow!("{s}: {e}"));
    let unit = |c: Code, kind, name: String, parent: Option<Code>| NewUnit {
        code: c,
        kind,
        name,
        parent,
        window: None,
        department: None,
        synthetic: true,
    };
    let mut units = vec![
        unit(
            code("BC".into())?,
            UnitKind::CityBureau,
            "基准市公安局".into(),
            None,
        ),
        unit(
            code("BC-01".into())?,
            UnitKind::CountyBureau,
            "基准县公安局".into(),
            Some(code("BC".into())?),
        ),
    ];
    for s in 0..BENCH_STATIONS {
        units.push(unit(
            code(format!("BC-01-S{s:02}"))?,
            UnitKind::Station,
            format!("基准第{s}派出所"),
            Some(code("BC-01".into())?),
        ));
    }
    let data = dir.join("data");
    let config = Config::load(data.clone(), None, &|_| None)?;
    let app = App::open(config).await?;
    let ids = app.store.insert_units(&units).await?;
    app.store.close().await;
    let bare_path = dir.join("bare.db");
    let bare_store = minyi_store::Store::open(&format!("sqlite://{}", bare_path.display())).await?;
    bare_store.insert_units(&units).await?;
    bare_store.close().await;
    let station_ids = &ids[2..];

    let categories = [
        Category::PublicOrder,
        Category::CrimeReport,
        Category::Traffic,
        Category::Emergency110,
        Category::Other,
    ];
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00+08:00")?
        .with_timezone(&chrono::Utc);
    let incident = |i: usize| -> NewIncident {
        let received_at = start + chrono::Duration::seconds(i as i64 * 20);
        let police = i % 10 < 6;
        let closed = i.is_multiple_of(2);
        NewIncident {
            external_id: format!("JQ2026{i:08}"),
            received_at,
            area_id: None,
            unit_id: police.then(|| station_ids[i % BENCH_STATIONS]),
            category: categories[i % categories.len()],
            police_matter: police,
            department: (!police).then_some(DepartmentKind::Utilities),
            summary: format!("第{i}号警情：群众报警求助，民警已到场处置"),
            closed_at: closed.then(|| received_at + chrono::Duration::minutes(50)),
            resolved: closed.then_some(!i.is_multiple_of(3)),
            synthetic: false,
        }
    };
    let csv_path = dir.join("incidents.csv");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&csv_path)?);
    writeln!(
        w,
        "external_id,received_at,unit,category,police_matter,department,summary,closed_at,resolved,name,phone"
    )?;
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&minyi_core::calendar::SHANGHAI)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let mut all = Vec::with_capacity(rows);
    for i in 0..rows {
        let x = incident(i);
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},张{},139{:08}",
            x.external_id,
            local(x.received_at),
            if x.police_matter {
                format!("BC-01-S{:02}", i % BENCH_STATIONS)
            } else {
                String::new()
            },
            x.category.code(),
            u8::from(x.police_matter),
            x.department.map_or("", |d| d.code()),
            x.summary,
            x.closed_at.map(local).unwrap_or_default(),
            x.resolved.map_or("", |r| if r { "1" } else { "0" }),
            i % 1000,
            i
        )?;
        all.push(x);
    }
    w.flush()?;
    println!(
        "bench import-incidents: {rows} rows written to {}",
        csv_path.display()
    );
    let took = minyi_store::bare_sqlite_insert_incidents(&bare_path, &all).await?;
    let rate = rows as f64 / took.as_secs_f64();
    println!(
        "baseline: sqlx SqliteConnection, one prepared single-row INSERT per incident (no events, no contacts), one transaction: {rate:.0} rows/s ({:.3} s)",
        took.as_secs_f64()
    );
    println!("BASELINE incidents rows_per_s={rate:.0}");
    Ok(())
}
