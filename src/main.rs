//! The `headwire` command line: parses arguments and calls into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use headwire::app;
use headwire::config::Config;

#[derive(Parser)]
#[command(
    name = "headwire",
    version,
    about = "Self-hosted news aggregator: portal sections in, merged RSS/Atom/JSON feeds out"
)]
struct Cli {
    /// The feeds.toml to use.
    #[arg(
        long,
        short,
        global = true,
        env = "HEADWIRE_CONFIG",
        default_value = "feeds.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll in the background and serve feeds over HTTP (SIGHUP reloads the config).
    Serve {
        /// Also reload the config whenever the file changes (checked every 2 s).
        #[arg(long)]
        watch: bool,
    },
    /// Poll every section once, store, and print per section: found / new / error.
    Poll {
        /// Poll once and exit (the only mode; required for clarity).
        #[arg(long)]
        once: bool,
    },
    /// Show what a section's selectors extract, without storing anything.
    Check {
        /// SOURCE/SECTION as configured.
        section: String,
        /// Read the page from this file instead of fetching it.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Resolve links against this URL instead of the section's.
        #[arg(long)]
        url: Option<String>,
    },
    /// Inspect the store.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Exit 0 when URL answers 2xx (container health checks).
    Health {
        /// The URL to probe.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Item counts per source and section, tombstones, disk size.
    Stats,
    /// Check every index against the items; exit non-zero on any mismatch.
    Verify,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, app::AppError> {
    match cli.command {
        Command::Serve { watch } => {
            app::serve(&cli.config, watch).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Poll { once } => {
            if !once {
                return Err(app::AppError::Other(
                    "`headwire poll` needs --once (use `headwire serve` to poll continuously)"
                        .into(),
                ));
            }
            let reports = app::poll_once(&cli.config).await?;
            let mut failed = 0;
            for report in &reports {
                match &report.error {
                    Some(e) => {
                        failed += 1;
                        println!("{}\terror\t{}: {e}", report.key, e.kind());
                    }
                    None if report.unchanged => println!("{}\tunchanged", report.key),
                    None => println!("{}\tfound {}\tnew {}", report.key, report.found, report.new),
                }
            }
            println!(
                "{} sections: {} ok, {} failed",
                reports.len(),
                reports.len() - failed,
                failed
            );
            Ok(if !reports.is_empty() && failed == reports.len() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Check { section, file, url } => {
            let config = Config::load(&cli.config)?;
            let report = app::check(&config, &section, file.as_deref(), url.as_deref()).await?;
            println!("charset: {}", report.charset);
            for (i, row) in report.rows.iter().enumerate() {
                println!(
                    "{:>3}. {}\n     {}\n     time: {} → {}\n     labels: {}",
                    i + 1,
                    row.title,
                    row.link,
                    row.raw_time.as_deref().unwrap_or("-"),
                    row.time,
                    if row.labels.is_empty() {
                        "-".to_string()
                    } else {
                        row.labels.join(", ")
                    }
                );
            }
            for row in &report.blocked {
                println!(
                    "blocked: {}\n     {}\n     by: {}",
                    row.title, row.link, row.reason
                );
            }
            for warning in &report.warnings {
                println!("warning: {warning}");
            }
            if report.blocked.is_empty() {
                println!("{} items extracted", report.rows.len());
            } else {
                println!(
                    "{} items extracted, {} dropped by keep/block rules",
                    report.rows.len(),
                    report.blocked.len()
                );
            }
            Ok(if report.rows.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Store { action } => {
            let config = Config::load(&cli.config)?;
            match action {
                StoreAction::Stats => {
                    for line in app::store_stats(&config)? {
                        println!("{line}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                StoreAction::Verify => {
                    let problems = app::store_verify(&config)?;
                    for p in &problems {
                        println!("{p}");
                    }
                    if problems.is_empty() {
                        println!("store is consistent");
                        Ok(ExitCode::SUCCESS)
                    } else {
                        println!("{} problems", problems.len());
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
        }
        Command::Health { url } => {
            app::health(&url).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
