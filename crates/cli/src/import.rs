//! `minyi import …`: reads a file on the server and hands it to one import use case of
//! `minyi_app` as the operator (audited as `cli`), then prints what was done.
//!
//! It must not parse or judge the file's contents itself (that is `minyi_app::geo` and
//! `minyi_core::geo`), and it prints codes and reasons only, never whole features.

use std::path::PathBuf;

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
}

pub async fn run(config: Config, c: &ImportCommand) -> anyhow::Result<()> {
    match c {
        ImportCommand::Areas { file } => areas(config, file).await,
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
