//! `minyi user`, `minyi apikey`, `minyi audit` and `minyi retention`: the operator's
//! security commands on the server itself. Each parses its arguments, calls one use case
//! of `minyi_app` as `Operator::Cli` (audited as `cli`) and prints the result.
//!
//! It must not hold rules of its own (who may do what, password policy, the chain check
//! live in `minyi_app` and `minyi_vault`), and it must never print a password hash or a
//! full API key other than the one it has just made.

use std::io::BufRead;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use minyi_app::audit::Verdict;
use minyi_app::auth::{self, Operator};
use minyi_app::{App, AppError, Config};
use minyi_core::access::{KeyPurpose, Role};
use minyi_core::calendar::SHANGHAI;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a staff account. Without --password-stdin a random password is generated,
    /// printed once (alone on the last line) and must be changed at first sign-in.
    Add {
        /// 3–32 of a-z 0-9 . _ -, starting with a letter.
        username: String,
        /// admin, city_analyst, county_analyst, station_staff, department_liaison,
        /// survey_agency or leader.
        #[arg(long)]
        role: String,
        /// The code of the unit the account belongs to (see `minyi units list`).
        #[arg(long)]
        unit: String,
        /// The name shown in the interface (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Tab-separated: username, role, unit, name, state, last sign-in (Asia/Shanghai).
    List,
    /// Refuse sign-in to an account and end its sessions.
    Disable { username: String },
    /// Allow a disabled account to sign in again.
    Enable { username: String },
    /// Set a new random password (printed alone on the last line), to be changed at the
    /// next sign-in; ends the account's sessions.
    ResetPassword { username: String },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key for one unit and one purpose; the key is printed once, alone on the
    /// last line, and only its hash is kept.
    Create {
        /// The code of the unit the key acts for.
        #[arg(long)]
        unit: String,
        /// open311, kiosk, import or sms.
        #[arg(long)]
        purpose: String,
        /// A note for operators, e.g. where the key is installed.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Tab-separated: id, prefix, purpose, unit, label, created, last used, revoked.
    List,
    /// Revoke a key by its id or its prefix.
    Revoke { id_or_prefix: String },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; names the first edited, deleted or reordered entry.
    Verify,
    /// The newest entries, oldest first: seq, time, actor, action, subject, detail.
    Tail {
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Anonymise contacts of matters closed before the retention cutoff now.
    Run,
}

/// Every command here works on data that must already exist (units, accounts, the log),
/// so a mistyped --data-dir is refused instead of creating an empty database.
async fn open(config: Config) -> anyhow::Result<App> {
    minyi_app::require_existing_store(&config)?;
    Ok(App::open(config).await?)
}

/// `AppError::NotFound` is deliberately vague for the web; here the operator typed the
/// name, so say what was looked for.
fn not_found(e: AppError, what: &str) -> anyhow::Error {
    match e {
        AppError::NotFound => anyhow!("{what} not found"),
        other => other.into(),
    }
}

fn username_problem(code: &str) -> &'static str {
    match code {
        "username_length" => "must be 3–32 characters",
        _ => "may hold only a-z, 0-9, '.', '_' and '-', and must start with a letter",
    }
}

fn password_problem(code: &str) -> &'static str {
    match code {
        "password_too_short" => "the password is too short: use at least 10 characters",
        "password_too_long" => "the password is too long: use at most 200 characters",
        "password_only_digits" => "the password is only digits: mix in letters or symbols",
        _ => "the password is not acceptable",
    }
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&SHANGHAI)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn opt_local(t: Option<DateTime<Utc>>) -> String {
    t.map(local).unwrap_or_else(|| "-".into())
}

/// Tabs and line breaks in stored text would shift columns or forge lines.
fn cell(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub async fn run_user(config: Config, c: &UserCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    match c {
        UserCommand::Add {
            username,
            role,
            unit,
            name,
            password_stdin,
        } => {
            let role = Role::parse(role).map_err(|e| anyhow!("--role: {e}"))?;
            let canonical = auth::parse_username(username).map_err(|k| {
                anyhow!(
                    "username `{}` {}",
                    cell(username.trim()),
                    username_problem(k)
                )
            })?;
            let (password, generated) = if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                let pw = line.trim_end_matches(['\r', '\n']).to_owned();
                if pw.is_empty() {
                    bail!("--password-stdin: standard input held no password on its first line");
                }
                auth::check_password_strength(&pw)
                    .map_err(|k| anyhow!("--password-stdin: {}", password_problem(k)))?;
                (pw, false)
            } else {
                (auth::random_password(), true)
            };
            let display = name.as_deref().unwrap_or(&canonical);
            let app = open(config).await?;
            auth::create_account(
                &app,
                Operator::Cli,
                &canonical,
                display,
                role,
                unit,
                &password,
                generated,
                false,
                now,
            )
            .await?;
            println!(
                "Created account {canonical} ({}) in unit {}.",
                role.code(),
                unit.trim()
            );
            if generated {
                println!(
                    "Its password is shown only now and must be changed at first sign-in (密码仅显示这一次):"
                );
                println!("{password}");
            }
            Ok(())
        }
        UserCommand::List => {
            let app = open(config).await?;
            let units = unit_codes(&app).await?;
            let mut out = String::new();
            for a in auth::accounts_visible(&app, &Operator::Cli).await? {
                let state = match a.locked_until {
                    _ if a.disabled => "disabled".to_owned(),
                    Some(until) if until > now => format!("locked until {}", local(until)),
                    _ => "active".to_owned(),
                };
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    cell(&a.username),
                    a.role.code(),
                    unit_code(&units, a.unit_id),
                    cell(&a.display_name),
                    state,
                    opt_local(a.last_login_at),
                ));
            }
            print!("{out}");
            Ok(())
        }
        UserCommand::Disable { username } | UserCommand::Enable { username } => {
            let disabled = matches!(c, UserCommand::Disable { .. });
            let app = open(config).await?;
            let what = format!("account `{}`", cell(username.trim()));
            auth::set_disabled(&app, Operator::Cli, username, disabled, now)
                .await
                .map_err(|e| not_found(e, &what))?;
            println!(
                "{what} {}.",
                if disabled {
                    "disabled; its sessions have ended"
                } else {
                    "enabled"
                }
            );
            Ok(())
        }
        UserCommand::ResetPassword { username } => {
            let app = open(config).await?;
            let what = format!("account `{}`", cell(username.trim()));
            let password = auth::reset_password(&app, Operator::Cli, username, now)
                .await
                .map_err(|e| not_found(e, &what))?;
            println!("New password for {what}; its sessions have ended.");
            println!(
                "It is shown only now and must be changed at next sign-in (密码仅显示这一次):"
            );
            println!("{password}");
            Ok(())
        }
    }
}

async fn unit_codes(app: &App) -> anyhow::Result<std::collections::HashMap<i64, String>> {
    Ok(app
        .store
        .units()
        .await?
        .into_iter()
        .map(|u| (u.id, u.code.as_str().to_owned()))
        .collect())
}

fn unit_code(units: &std::collections::HashMap<i64, String>, id: i64) -> String {
    units.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
}

pub async fn run_apikey(config: Config, c: &ApiKeyCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    match c {
        ApiKeyCommand::Create {
            unit,
            purpose,
            label,
        } => {
            let purpose = KeyPurpose::parse(purpose).map_err(|e| anyhow!("--purpose: {e}"))?;
            let app = open(config).await?;
            let (id, key) =
                auth::create_api_key(&app, Operator::Cli, unit, purpose, label, now).await?;
            println!(
                "Created API key {id} for unit {}, purpose {}.",
                unit.trim(),
                purpose.code()
            );
            println!(
                "It is shown only now; minyi keeps only its hash. Revoke it with `minyi apikey revoke {id}`."
            );
            println!("{key}");
            Ok(())
        }
        ApiKeyCommand::List => {
            let app = open(config).await?;
            let units = unit_codes(&app).await?;
            let mut out = String::new();
            for k in auth::api_keys_visible(&app, &Operator::Cli).await? {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    k.id,
                    k.prefix,
                    k.purpose.code(),
                    unit_code(&units, k.unit_id),
                    cell(&k.label),
                    local(k.created_at),
                    opt_local(k.last_used_at),
                    k.revoked_at
                        .map(|t| format!("revoked {}", local(t)))
                        .unwrap_or_else(|| "active".into()),
                ));
            }
            print!("{out}");
            Ok(())
        }
        ApiKeyCommand::Revoke { id_or_prefix } => {
            let app = open(config).await?;
            let what = format!("API key `{}`", cell(id_or_prefix.trim()));
            auth::revoke_api_key(&app, Operator::Cli, id_or_prefix, now)
                .await
                .map_err(|e| not_found(e, &what))?;
            println!("{what} revoked.");
            Ok(())
        }
    }
}

pub async fn run_audit(config: Config, c: &AuditCommand) -> anyhow::Result<()> {
    let app = open(config).await?;
    match c {
        AuditCommand::Verify => match minyi_app::audit::verify(&app).await? {
            Verdict::Intact { entries } => {
                println!("audit log intact: {entries} entries");
                Ok(())
            }
            Verdict::Broken(b) => bail!("audit log BROKEN: {b}"),
        },
        AuditCommand::Tail { limit } => {
            let mut rows = app.store.audit_recent(*limit).await?;
            rows.reverse();
            let mut out = String::new();
            for r in rows {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    r.seq,
                    r.at.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M:%S"),
                    cell(&r.actor),
                    cell(&r.action),
                    cell(&r.subject),
                    cell(&r.detail),
                ));
            }
            print!("{out}");
            Ok(())
        }
    }
}

pub async fn run_retention(config: Config, c: &RetentionCommand) -> anyhow::Result<()> {
    match c {
        RetentionCommand::Run => {
            let app = open(config).await?;
            let days = app.config.security.retention_days;
            let (n, cutoff) = minyi_app::privacy::run_retention(&app, "cli", Utc::now()).await?;
            println!(
                "anonymised {n} contacts of matters closed before {} (retention {days} days)",
                cutoff.with_timezone(&SHANGHAI).format("%Y-%m-%d")
            );
            Ok(())
        }
    }
}
