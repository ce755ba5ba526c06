//! The `minyi` command: serve, demo, units, bench. A thin front door: it parses
//! arguments, opens the app, calls a use case and prints the result.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use minyi_app::{App, Config};

// glibc's allocator spends a tenth of a bulk import in malloc and free when rows are made
// on the reader threads and dropped on the writer; mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod assess;
mod bench;
mod briefing;
mod import;
mod stats;
mod survey;
mod text;

#[derive(Parser)]
#[command(
    name = "minyi",
    version,
    about = "民意引领警务平台 — public-opinion-led policing"
)]
struct Cli {
    /// Where minyi keeps its SQLite database, keys and logs.
    #[arg(
        long,
        global = true,
        env = "MINYI_DATA_DIR",
        default_value = "minyi-data"
    )]
    data_dir: PathBuf,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: minyi.db in the data directory).
    #[arg(long, global = true, env = "MINYI_DATABASE_URL")]
    database_url: Option<String>,
    /// A configuration file (default: minyi.toml in the data directory, if present).
    #[arg(long, global = true, env = "MINYI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web interface and API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Fill an empty store with the synthetic demo city on first start.
        #[arg(long)]
        demo: bool,
        /// Seed for --demo.
        #[arg(long, default_value_t = 2014)]
        seed: u64,
    },
    /// Generate the synthetic demo city into an empty store and print what was made.
    Demo {
        #[arg(long, default_value_t = 2014)]
        seed: u64,
    },
    /// Units of the organisation.
    Units {
        #[command(subcommand)]
        command: UnitsCommand,
    },
    /// Check a working-day calendar file and print what it covers.
    Calendar {
        /// The calendar TOML file (see docs/formats.md).
        file: PathBuf,
    },
    /// Classify opinion texts with a trained model.
    Text {
        #[command(subcommand)]
        command: text::TextCommand,
    },
    /// Train and evaluate the text classification model.
    Model {
        #[command(subcommand)]
        command: text::ModelCommand,
    },
    /// Survey estimation, small-area shrinkage and rank uncertainty on any survey file.
    Stats {
        #[command(subcommand)]
        command: stats::StatsCommand,
    },
    /// Three-indicator survey waves: create, allocate (agency sheet), import, state, estimates.
    Survey {
        #[command(subcommand)]
        command: survey::SurveyCommand,
    },
    /// Assessments (综合考评): run a scheme, rerun a stored run, list runs and appeals,
    /// import business, team-building and jurisdiction metrics.
    Assess {
        #[command(subcommand)]
        command: assess::AssessCommand,
    },
    /// Briefings (研判报告): draft one for a county or the city and write it as HTML or DOCX.
    Briefing {
        #[command(subcommand)]
        command: briefing::BriefingCommand,
    },
    /// Staff accounts: add, list, disable, enable, reset-password.
    User {
        #[command(subcommand)]
        command: admin::UserCommand,
    },
    /// API keys and device tokens for integrations, kiosks, imports and SMS gateways.
    Apikey {
        #[command(subcommand)]
        command: admin::ApiKeyCommand,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: admin::AuditCommand,
    },
    /// Anonymise residents' identities on matters closed longer than the retention period.
    Retention {
        #[command(subcommand)]
        command: admin::RetentionCommand,
    },
    /// Import files: area boundaries (GeoJSON), and as features land, opinions and records.
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Benchmarks that print their same-run baseline and the ratio.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum UnitsCommand {
    /// One unit a line: code, kind, name, tab-separated.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.data_dir.clone(), cli.config.as_deref(), &|k| {
        std::env::var(k).ok()
    })?;
    if let Some(url) = &cli.database_url {
        config.database_url = Some(url.clone());
    }
    Ok(config)
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| {
        anyhow::anyhow!("log filter `{filter}` (from `log`, MINYI_LOG or RUST_LOG): {e}")
    })?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen, demo, seed } => {
            let mut config = load_config(&cli)?;
            if let Some(l) = listen {
                config.listen = minyi_app::config::parse_listen(l)
                    .map_err(|m| anyhow::anyhow!("--listen: {m}"))?;
            }
            init_logging(&config.log)?;
            let app = App::open(config).await?;
            minyi_app::demo::check_not_half_loaded(&app).await?;
            if *demo {
                if app.store.counts().await?.units == 0 {
                    print_demo(&app, *seed).await?;
                } else {
                    println!("--demo: the store already has data, so nothing was generated.");
                }
            }
            let now = chrono::Utc::now();
            if let Some((user, password)) = minyi_app::auth::ensure_first_admin(&app, now).await? {
                println!(
                    "First start: created the administrator account. Its password is shown only now;"
                );
                println!("sign in and change it (首次启动：已创建管理员账号，密码仅显示这一次):");
                println!("  username {user}");
                println!("  password {password}");
            }
            if *demo && app.store.meta_get("synthetic_demo").await?.as_deref() == Some("true") {
                let accounts = minyi_app::demo::create_accounts(&app, now).await?;
                if accounts.is_empty() {
                    println!(
                        "Demo accounts (demo_admin, demo_city, demo_county, demo_station, demo_liaison, demo_survey, demo_leader) \
                         exist already; their passwords were printed when they were made. Reset one with \
                         `minyi user reset-password USERNAME`."
                    );
                } else {
                    println!(
                        "Demo accounts, one per role (演示账号，每个角色一个；密码仅显示这一次):"
                    );
                    for a in &accounts {
                        println!(
                            "  {:<20} {:<14} {:<18} {} ({})",
                            a.role.code(),
                            a.username,
                            a.password,
                            a.unit_name,
                            a.unit_code
                        );
                    }
                }
            }
            let listener = tokio::net::TcpListener::bind(app.config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", app.config.listen))?;
            let addr = listener.local_addr()?;
            println!("minyi is serving {} at http://{addr}/", app.store.url());
            println!("Open http://{addr}/ in a browser and sign in.");
            // The SMS outbox sender runs beside the server and stops with it.
            let (stop_outbox, outbox_stop) = tokio::sync::watch::channel(false);
            let outbox = tokio::spawn(minyi_app::notify::run_outbox(app.clone(), outbox_stop));
            // So does the deadline watch: reminders, overdue marks, escalation.
            let mut watch_stop = stop_outbox.subscribe();
            let watch = tokio::spawn(minyi_app::watch::run_forever(
                app.clone(),
                app.config.watch,
                std::time::Duration::from_secs(60),
                async move {
                    let _ = watch_stop.changed().await;
                },
            ));
            // And the callback planner: callbacks and case-progress notices from records.
            let mut planner_stop = stop_outbox.subscribe();
            let planner = tokio::spawn(minyi_app::callbacks::run_forever(
                app.clone(),
                std::time::Duration::from_secs(60),
                async move {
                    let _ = planner_stop.changed().await;
                },
            ));
            // And the near-duplicate sweep: merge proposals for what intake stored.
            let mut sweep_stop = stop_outbox.subscribe();
            let sweep = tokio::spawn(minyi_app::merge::run_forever(
                app.clone(),
                std::time::Duration::from_secs(5),
                async move {
                    let _ = sweep_stop.changed().await;
                },
            ));
            let served = minyi_web::serve(app, listener).await;
            let _ = stop_outbox.send(true);
            let _ = outbox.await;
            let _ = watch.await;
            let _ = planner.await;
            let _ = sweep.await;
            served?;
            Ok(())
        }
        Command::Demo { seed } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            let app = App::open(config).await?;
            print_demo(&app, *seed).await
        }
        Command::Units {
            command: UnitsCommand::List,
        } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            minyi_app::require_existing_store(&config)?;
            let app = App::open(config).await?;
            let mut out = String::new();
            for u in app.store.units().await? {
                out.push_str(&format!("{}\t{}\t{}\n", u.code, u.kind.code(), u.name));
            }
            print!("{out}");
            Ok(())
        }
        Command::Calendar { file } => {
            let calendar = minyi_app::load_calendar(Some(file))?;
            println!("{}: {} holidays", file.display(), calendar.holidays().len());
            for year in 2024..=2030 {
                match calendar.coverage(year) {
                    minyi_core::calendar::Coverage::Official { source } => {
                        println!("{year}: official ({source})")
                    }
                    minyi_core::calendar::Coverage::WeekendsOnly => {
                        println!("{year}: not covered — deadlines fall back to plain weekends")
                    }
                }
            }
            Ok(())
        }
        Command::Text { command } => {
            init_logging("warn")?;
            text::run_text(command)
        }
        Command::Model {
            command: text::ModelCommand::Corrections { output },
        } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            minyi_app::require_existing_store(&config)?;
            let app = App::open(config).await?;
            let examples = minyi_app::analysis::corrections(&app).await?;
            // Written beside the target and renamed, so a failed export leaves no half file.
            let partial = output.with_extension("jsonl.partial");
            text::write_examples(&partial, &examples)?;
            std::fs::rename(&partial, output).map_err(|e| {
                anyhow::anyhow!(
                    "cannot move {} to {}: {e}",
                    partial.display(),
                    output.display()
                )
            })?;
            println!(
                "wrote {} correction(s) to {}",
                examples.len(),
                output.display()
            );
            Ok(())
        }
        Command::Model { command } => {
            init_logging("warn")?;
            text::run_model(command)
        }
        Command::Stats { command } => {
            init_logging("warn")?;
            stats::run(command)
        }
        Command::Survey { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            survey::run(config, command).await
        }
        Command::Assess { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            assess::run(config, command).await
        }
        Command::Briefing { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            briefing::run(config, command).await
        }
        Command::User { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            admin::run_user(config, command).await
        }
        Command::Apikey { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            admin::run_apikey(config, command).await
        }
        Command::Audit { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            admin::run_audit(config, command).await
        }
        Command::Retention { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            admin::run_retention(config, command).await
        }
        Command::Import { command } => {
            let config = load_config(&cli)?;
            init_logging("warn")?;
            import::run(config, command).await
        }
        Command::Bench { command } => {
            init_logging("warn")?;
            bench::run(command).await
        }
    }
}

async fn print_demo(app: &App, seed: u64) -> anyhow::Result<()> {
    println!(
        "Generating the synthetic demo city (seed {seed}) into {} …",
        app.store.url()
    );
    let report = minyi_app::demo::load(app, seed, minyi_app::demo::full_volumes(), &|step| {
        println!("  {step}")
    })
    .await?;
    let c = &report.counts;
    println!(
        "Done in {:.1} s. Everything below is SYNTHETIC demo data (合成演示数据):",
        report.seconds
    );
    println!("  units                {:>9}", c.units);
    println!(
        "  areas                {:>9}  (5 counties, 72 townships, 871 villages)",
        c.areas
    );
    println!("  officers             {:>9}", c.officers);
    println!(
        "  opinions             {:>9}  ({} still open)",
        c.opinions, c.open_opinions
    );
    println!("  opinion events       {:>9}", c.events);
    println!("  window ratings       {:>9}", c.ratings);
    println!(
        "  110 incidents        {:>9}  ({} not police matters, {:.1}%)",
        c.incidents,
        c.non_police_incidents,
        100.0 * c.non_police_incidents as f64 / c.incidents.max(1) as f64
    );
    println!("  cases                {:>9}", c.cases);
    println!("  permit transactions  {:>9}", c.permits);
    Ok(())
}
