//! `minyi briefing draft --unit CODE --period P [--output FILE.html|.docx] [--as-of T]`:
//! drafts the briefing (研判报告) of a county or city bureau from the data, stores it as
//! the next draft version (audited as `cli`), prints its text, and writes the print
//! view (HTML with the A4 stylesheet inlined) or the DOCX when asked.
//!
//! Thin: drafting is `minyi_app::briefings`, rendering is `minyi_web::pages::briefings`.
//! Everything printed is what the briefing holds, already masked.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use minyi_app::{App, Config};

#[derive(Subcommand)]
pub enum BriefingCommand {
    /// Draft a briefing now and store it as the next draft version.
    Draft {
        /// A county or city bureau's unit code (see `minyi units list`).
        #[arg(long)]
        unit: String,
        /// 2026-11 (month), 2026-Q4 (quarter) or 2026-W47 (ISO week).
        #[arg(long)]
        period: String,
        /// Also write it: `.html` (print view, A4) or `.docx`.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Draft as of this instant (RFC 3339, e.g. 2026-11-20T12:00:00+08:00) instead
        /// of now; figures count only what happened before it.
        #[arg(long)]
        as_of: Option<String>,
    },
}

#[derive(Clone, Copy)]
enum Format {
    Html,
    Docx,
}

fn format_of(path: &Path) -> anyhow::Result<Format> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html") | Some("htm") => Ok(Format::Html),
        Some("docx") => Ok(Format::Docx),
        _ => bail!(
            "--output {}: name a .html or .docx file (the format follows the extension)",
            path.display()
        ),
    }
}

pub async fn run(config: Config, c: &BriefingCommand) -> anyhow::Result<()> {
    let BriefingCommand::Draft {
        unit,
        period,
        output,
        as_of,
    } = c;
    // Check what can be checked before opening the store.
    let format = output.as_deref().map(format_of).transpose()?;
    let now = match as_of {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .with_context(|| {
                format!("--as-of `{s}`: write an RFC 3339 time such as 2026-11-20T12:00:00+08:00")
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    minyi_app::require_existing_store(&config)?;
    let app = App::open(config).await?;
    let result = draft(&app, unit, period, output.as_deref().zip(format), now).await;
    app.store.close().await;
    result
}

async fn draft(
    app: &App,
    unit: &str,
    period: &str,
    output: Option<(&Path, Format)>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let d = minyi_app::briefings::draft(app, unit, period, now)
        .await
        .map_err(|e| match e {
            minyi_app::AppError::NotFound => anyhow::anyhow!("no unit with code `{}`", unit.trim()),
            other => other.into(),
        })?;
    let row = minyi_app::briefings::store_draft(app, &d, "cli", now).await?;
    let b = minyi_app::briefings::load(app, row.id).await?;
    println!(
        "{}\nbriefing {} · {} · version {} · draft (publish it on /briefings/{})",
        b.row.title, b.row.id, b.row.period, b.row.version, b.row.id
    );
    if b.row.synthetic {
        println!("SYNTHETIC demo data");
    }
    for s in &b.sections {
        println!("\n{}\n{}", s.heading, s.body);
    }
    if let Some((path, format)) = output {
        let bytes = match format {
            Format::Html => {
                minyi_web::pages::briefings::document_html(minyi_web::i18n::Lang::ZhCn, &b, true)
                    .into_bytes()
            }
            Format::Docx => {
                minyi_web::pages::briefings::docx_bytes(&b).context("writing the DOCX package")?
            }
        };
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("\nwritten to {}", path.display());
    }
    Ok(())
}
