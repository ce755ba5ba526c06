//! `minyi survey …`: create a wave, allocate its sample and write the agency's sheet,
//! import the agency's interviews, close a wave, and print or write the estimates.
//!
//! Thin: every rule is `minyi_app::surveys`. It prints counts, codes and reasons, never
//! a comment's text.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use minyi_app::surveys::{
    self, AllocationMethod, AllocationRequest, Margins, WaveConfig, WaveInput, WaveState,
};
use minyi_app::{App, Config};

#[derive(Subcommand)]
pub enum SurveyCommand {
    /// Create a wave (state draft). The questionnaire's scoring comes from --config
    /// (JSON, see docs/formats.md) or the defaults: top-2 rates, "don't know" left out
    /// of security and satisfaction and counted as not aware for the chief.
    Create {
        /// The wave's code, for example 2026Q3.
        code: String,
        #[arg(long)]
        name: String,
        /// The period the wave measures, for example 2026-Q3.
        #[arg(long)]
        period: String,
        /// Scoring and interval configuration (JSON file).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Population shares by age band and sex for calibration (JSON file).
        #[arg(long)]
        margins: Option<PathBuf>,
    },
    /// Share the wave's sample among stations and write the agency's CSV sheet.
    Allocate {
        wave: String,
        /// proportional | equal | neyman | half-width
        #[arg(long, default_value = "proportional")]
        method: String,
        /// The total number of interviews (not for half-width).
        #[arg(long)]
        total: Option<u64>,
        /// At least this many interviews at every station.
        #[arg(long, default_value_t = 0)]
        min: u64,
        /// For half-width: the interval half-width wanted, for example 0.08.
        #[arg(long)]
        half_width: Option<f64>,
        /// The proportion expected (Neyman's spread, the calculator's p).
        #[arg(long, default_value_t = 0.85)]
        anticipated: f64,
        /// Design effect assumed by the calculator.
        #[arg(long, default_value_t = 1.0)]
        deff: f64,
        /// Where to write the sheet (CSV).
        #[arg(long)]
        out: PathBuf,
    },
    /// Import interviews from a CATI export (CSV or XLSX; see docs/formats.md). Rejected
    /// rows are listed with row, column and reason; importing the same file again adds
    /// nothing.
    Import { wave: String, file: PathBuf },
    /// Set a wave's state: draft, fielding or closed (a closed wave stays closed).
    State { wave: String, state: String },
    /// The estimates per station and indicator, as CSV (to --out, or standard output).
    Estimates {
        wave: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn read_json(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub async fn run(config: Config, c: &SurveyCommand) -> anyhow::Result<()> {
    // Check what can be checked before opening the store.
    let (wave_config, margins) = match c {
        SurveyCommand::Create {
            config, margins, ..
        } => (
            match config {
                Some(p) => Some(WaveConfig::parse(&read_json(p)?)?),
                None => None,
            },
            match margins {
                Some(p) => Some(Margins::parse(&read_json(p)?)?),
                None => None,
            },
        ),
        _ => (None, None),
    };
    minyi_app::require_existing_store(&config)?;
    let app = App::open(config).await?;
    let result = run_on(&app, c, wave_config, margins).await;
    app.store.close().await;
    result
}

async fn run_on(
    app: &App,
    c: &SurveyCommand,
    wave_config: Option<WaveConfig>,
    margins: Option<Margins>,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match c {
        SurveyCommand::Create {
            code, name, period, ..
        } => {
            let w = surveys::create_wave(
                app,
                WaveInput {
                    code: code.clone(),
                    name: name.clone(),
                    period: period.clone(),
                    config: wave_config.unwrap_or_default(),
                    margins,
                    synthetic: false,
                },
                now,
            )
            .await?;
            println!(
                "created wave {} ({}), state draft",
                w.row.code, w.row.period
            );
        }
        SurveyCommand::Allocate {
            wave,
            method,
            total,
            min,
            half_width,
            anticipated,
            deff,
            out,
        } => {
            let method = AllocationMethod::parse(method).map_err(|e| anyhow::anyhow!(e))?;
            let lines = surveys::allocate(
                app,
                wave,
                AllocationRequest {
                    method,
                    total: *total,
                    min_per_station: *min,
                    anticipated: *anticipated,
                    half_width: *half_width,
                    deff: *deff,
                    ..Default::default()
                },
            )
            .await?;
            let csv = surveys::allocation_csv(&lines)?;
            std::fs::write(out, format!("\u{feff}{csv}"))
                .with_context(|| format!("cannot write {}", out.display()))?;
            let sum: i64 = lines.iter().map(|l| l.sample_size).sum();
            println!(
                "{} stations, {sum} interviews ({}); sheet written to {}",
                lines.len(),
                method.code(),
                out.display()
            );
        }
        SurveyCommand::Import { wave, file } => {
            let report = surveys::import_responses(app, wave, file, "cli", now).await?;
            // A row may have several problems; count rows, list problems.
            let rejected_rows = report
                .rejected
                .iter()
                .map(|e| e.row)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            println!(
                "{}: {} rows; stored {}, already there {}, rejected {} rows; {} comments became opinions",
                file.display(),
                report.rows,
                report.stored,
                report.repeated,
                rejected_rows,
                report.opinions
            );
            for e in report.rejected.iter().take(50) {
                eprintln!("  {e}");
            }
            if report.rejected.len() > 50 {
                eprintln!("  … and {} more", report.rejected.len() - 50);
            }
            if report.stored + report.repeated == 0 && report.rows > 0 {
                bail!("{}: no valid row; nothing was imported", file.display());
            }
        }
        SurveyCommand::State { wave, state } => {
            let state = WaveState::parse(state).map_err(|e| anyhow::anyhow!(e))?;
            let w = surveys::set_state(app, wave, state).await?;
            println!("wave {} is now {}", w.row.code, w.state.code());
        }
        SurveyCommand::Estimates { wave, out } => {
            let rows = surveys::estimates(app, wave).await?;
            let csv = surveys::estimates_csv(&rows)?;
            match out {
                Some(p) => {
                    std::fs::write(p, format!("\u{feff}{csv}"))
                        .with_context(|| format!("cannot write {}", p.display()))?;
                    println!(
                        "{} stations; estimates written to {}",
                        rows.len(),
                        p.display()
                    );
                }
                None => print!("{csv}"),
            }
        }
    }
    Ok(())
}
