//! `minyi assess …`: run an assessment scheme on the stored data, rerun a stored run and
//! prove it reproduces byte for byte, list runs and appeals, import business,
//! team-building and jurisdiction metrics.
//!
//! Thin: gathering, scoring, storing and checking are `minyi_app::assess`. The printed
//! run is built only from what the run stored, so `rerun` prints exactly what `run`
//! printed (the JSON shape is in docs/formats.md, "Assessment run output").

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use minyi_app::assess::{self, Actor, AppealFilter};
use minyi_app::{App, Config};
use minyi_assess::{ExclusionReason, RunResult};
use serde_json::{Value, json};

/// Format tag of the printed run.
pub const OUTPUT_FORMAT: &str = "minyi.assess.cli.v1";

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(Subcommand)]
pub enum AssessCommand {
    /// Gather the period's data, score every police station, store the run and print
    /// its id and every unit's score, rank, rank interval and rule outcomes.
    Run {
        /// Scheme TOML file (see crates/assess/SCHEME.md); default: the shipped scheme.
        #[arg(long)]
        scheme: Option<PathBuf>,
        /// Period label fitting the scheme (2026, 2026-H1, 2026-Q3, 2026-07); default:
        /// the current year.
        #[arg(long)]
        period: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Reproduce a stored run from its stored scheme text and input and print it as
    /// `run` did; exits non-zero unless scheme, input and result are byte-identical.
    Rerun {
        run: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Stored runs, newest first.
    List,
    /// Import metrics from CSV or XLSX (columns unit, metric, value; see
    /// docs/formats.md). Any bad row: rows named on stderr and nothing stored.
    ImportMetrics {
        file: PathBuf,
        #[arg(long)]
        period: String,
    },
    /// Appeals, newest first.
    Appeals {
        #[arg(long)]
        run: Option<i64>,
        /// filed | upheld | rejected
        #[arg(long)]
        state: Option<String>,
    },
}

pub async fn run(config: Config, c: &AssessCommand) -> anyhow::Result<()> {
    // Read and check the scheme before opening the store.
    let scheme_text = match c {
        AssessCommand::Run {
            scheme: Some(p), ..
        } => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read scheme file {}", p.display()))?;
            assess::parse_scheme(Some(&text))
                .with_context(|| format!("scheme file {}", p.display()))?;
            Some(text)
        }
        _ => None,
    };
    minyi_app::require_existing_store(&config)?;
    let app = App::open(config).await?;
    let result = run_on(&app, c, scheme_text.as_deref()).await;
    app.store.close().await;
    result
}

async fn run_on(app: &App, c: &AssessCommand, scheme_text: Option<&str>) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match c {
        AssessCommand::Run { period, format, .. } => {
            let period = match period {
                Some(p) => p.clone(),
                None => minyi_app::indicators::period_or_default(None, now)?.label,
            };
            let r = assess::run_at(app, scheme_text, &period, Actor::Cli, now).await?;
            print!("{}", render(r.id, &r.result, *format)?);
            Ok(())
        }
        AssessCommand::Rerun { run, format } => {
            let again = assess::rerun(app, *run).await?;
            let result: RunResult = serde_json::from_str(&again.again.result_json)
                .context("the rerun's result JSON")?;
            print!("{}", render(*run, &result, *format)?);
            if !again.identical {
                let o = &again.original.record;
                let a = &again.again;
                bail!(
                    "run {run} was NOT reproduced: scheme {} vs {}, input {} vs {}, result {} vs {}",
                    o.scheme_hash,
                    a.scheme_hash,
                    o.input_hash,
                    a.input_hash,
                    o.result_hash,
                    a.result_hash
                );
            }
            Ok(())
        }
        AssessCommand::List => {
            for r in assess::list(app).await? {
                println!(
                    "{}\t{}\t{}@{}\t{}\t{}\tresult {}{}",
                    r.id,
                    r.period,
                    r.scheme_id,
                    r.scheme_version,
                    r.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    r.created_by,
                    &r.result_hash[..12.min(r.result_hash.len())],
                    match (r.parent_id, &r.reason) {
                        (Some(p), Some(why)) => format!("\tcorrects {p}: {why}"),
                        (Some(p), None) => format!("\tcorrects {p}"),
                        _ => String::new(),
                    }
                );
            }
            Ok(())
        }
        AssessCommand::ImportMetrics { file, period } => {
            let report = assess::import_metrics(app, file, period, Actor::Cli, now).await?;
            match report.stored {
                Some(s) => {
                    println!(
                        "{}: {} rows read for {}; {} new, {} changed, {} unchanged",
                        report.source,
                        report.rows,
                        report.period,
                        s.inserted,
                        s.updated,
                        s.unchanged
                    );
                    Ok(())
                }
                None => {
                    for line in report.rejected_lines() {
                        eprintln!("{line}");
                    }
                    bail!(
                        "{}: {} problem(s) in {} rows; nothing was stored",
                        report.source,
                        report.rejected.len(),
                        report.rows
                    )
                }
            }
        }
        AssessCommand::Appeals { run, state } => {
            let filter = AppealFilter {
                run_id: *run,
                state: state.clone(),
            };
            for a in assess::all_appeals(app, &filter).await? {
                println!(
                    "{}\trun {}\t{}\t{}\tclaimed {}\t{}{}",
                    a.row.id,
                    a.row.run_id,
                    a.unit_code,
                    a.row.indicator,
                    a.row.claimed_value,
                    a.row.state,
                    a.row
                        .result_run_id
                        .map(|r| format!("\tnew run {r}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

fn exclusion_code(r: &ExclusionReason) -> String {
    match r {
        ExclusionReason::MissingIndicator { indicator } => format!("missing_indicator:{indicator}"),
        ExclusionReason::NoWeightedData => "no_weighted_data".into(),
    }
}

/// The printed run: JSON (canonical: sorted keys, no whitespace, one line) or text.
/// Built from the run id and stored result only.
pub fn render(id: i64, r: &RunResult, format: Format) -> anyhow::Result<String> {
    let outcome_code = |o: &minyi_assess::RuleOutcome| -> anyhow::Result<String> {
        Ok(serde_json::to_value(o.outcome)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    };
    match format {
        Format::Json => {
            let mut units = Vec::with_capacity(r.units.len());
            for u in &r.units {
                let mut outcomes = Vec::new();
                for o in &u.outcomes {
                    outcomes.push(json!({
                        "rule": o.rule,
                        "outcome": outcome_code(o)?,
                        "reasons": serde_json::to_value(&o.reasons)?,
                    }));
                }
                units.push(json!({
                    "unit": u.unit,
                    "score": u.score,
                    "rank": u.rank,
                    "basis_score": u.basis.as_ref().map(|b| b.score),
                    "basis_rank": u.basis.as_ref().map(|b| b.rank),
                    "rank_interval": u.uncertainty.as_ref().map(|x| vec![x.rank_low, x.rank_high]),
                    "outcomes": outcomes,
                }));
            }
            let excluded: Vec<Value> = r
                .excluded
                .iter()
                .map(|e| {
                    json!({
                        "unit": e.unit,
                        "reasons": e.reasons.iter().map(exclusion_code).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let v = json!({
                "format": OUTPUT_FORMAT,
                "run": id,
                "period": r.period,
                "scheme": {"id": r.scheme.id, "version": r.scheme.version, "hash": r.scheme.hash},
                "input_hash": r.input_hash,
                "result_hash": r.hash()?,
                "ranked": r.ranked,
                "units": units,
                "excluded": excluded,
            });
            Ok(format!("{}\n", minyi_assess::canonical_json(&v)?))
        }
        Format::Text => {
            let mut s = format!(
                "run {id}\tperiod {}\tscheme {}@{} ({})\tranked {}\n",
                r.period, r.scheme.id, r.scheme.version, r.scheme.hash, r.ranked
            );
            s.push_str("rank\tunit\tscore\tbasis_rank\trank_interval\toutcomes\n");
            for u in &r.units {
                let outcomes = u
                    .outcomes
                    .iter()
                    .map(outcome_code)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                s.push_str(&format!(
                    "{}\t{}\t{:.3}\t{}\t{}\t{}\n",
                    u.rank,
                    u.unit,
                    u.score,
                    u.basis
                        .as_ref()
                        .map(|b| b.rank.to_string())
                        .unwrap_or_else(|| "-".into()),
                    u.uncertainty
                        .as_ref()
                        .map(|x| format!("{}-{}", x.rank_low, x.rank_high))
                        .unwrap_or_else(|| "-".into()),
                    if outcomes.is_empty() {
                        "-".to_owned()
                    } else {
                        outcomes.join(",")
                    }
                ));
            }
            for e in &r.excluded {
                s.push_str(&format!(
                    "excluded\t{}\t{}\n",
                    e.unit,
                    e.reasons
                        .iter()
                        .map(exclusion_code)
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            Ok(s)
        }
    }
}
