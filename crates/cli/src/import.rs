//! `minyi import …` (being written).

use clap::Subcommand;
use minyi_app::Config;

#[derive(Subcommand)]
pub enum ImportCommand {}

pub async fn run(_config: Config, c: &ImportCommand) -> anyhow::Result<()> {
    match *c {}
}
