//! `minyi user`, `minyi apikey`, `minyi audit`, `minyi retention` (being written).

use clap::Subcommand;
use minyi_app::Config;

#[derive(Subcommand)]
pub enum UserCommand {}
#[derive(Subcommand)]
pub enum ApiKeyCommand {}
#[derive(Subcommand)]
pub enum AuditCommand {}
#[derive(Subcommand)]
pub enum RetentionCommand {}

pub async fn run_user(_config: Config, c: &UserCommand) -> anyhow::Result<()> {
    match *c {}
}
pub async fn run_apikey(_config: Config, c: &ApiKeyCommand) -> anyhow::Result<()> {
    match *c {}
}
pub async fn run_audit(_config: Config, c: &AuditCommand) -> anyhow::Result<()> {
    match *c {}
}
pub async fn run_retention(_config: Config, c: &RetentionCommand) -> anyhow::Result<()> {
    match *c {}
}
