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
    /// Find the headline lists on a page and print ready selectors (`--write` appends one).
    Suggest {
        /// The page URL (with --file: the URL it was saved from, for resolving links).
        page: Option<String>,
        /// Read the page from this file instead of fetching it.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The page's URL when reading --file (same as the positional URL).
        #[arg(long)]
        url: Option<String>,
        /// Zone for times printed without an offset (default: the source's, else UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// Append the chosen suggestion to the config as SOURCE/SECTION.
        #[arg(long, value_name = "SOURCE/SECTION")]
        write: Option<String>,
        /// Name of the written section (default: its id).
        #[arg(long)]
        name: Option<String>,
        /// Which suggestion --write takes (1 = best).
        #[arg(long, default_value_t = 1)]
        pick: usize,
    },
    /// Add every feed of an OPML export (any feed reader) as kind = "feed" sections.
    Import {
        /// The OPML file.
        opml: PathBuf,
        /// Put every feed in this source (default: one source per site host).
        #[arg(long)]
        source: Option<String>,
        /// Print the sections instead of writing them.
        #[arg(long)]
        dry_run: bool,
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

/// The exit code of a command that ran: failure when it found nothing to show.
fn failure_if(nothing: bool) -> ExitCode {
    if nothing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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
                return Err(app::AppError::PollNeedsOnce);
            }
            let reports = app::poll_once(&cli.config).await?;
            let mut failed = 0;
            for report in &reports {
                let texts = match report.texts {
                    t if t.fetched + t.failed == 0 => String::new(),
                    t => format!("\ttexts {} stored, {} failed", t.fetched, t.failed),
                };
                match &report.error {
                    Some(e) => {
                        failed += 1;
                        // Messages that already open with their kind ("timeout: …") say it once.
                        let message = e.to_string();
                        let kind = e.kind();
                        if message.starts_with(&format!("{kind}:")) {
                            println!("{}\terror\t{message}", report.key);
                        } else {
                            println!("{}\terror\t{kind}: {message}", report.key);
                        }
                    }
                    None if report.unchanged => println!("{}\tunchanged{texts}", report.key),
                    None => println!(
                        "{}\tfound {}\tnew {}{texts}",
                        report.key, report.found, report.new
                    ),
                }
            }
            println!(
                "{} sections: {} ok, {} failed",
                reports.len(),
                reports.len() - failed,
                failed
            );
            Ok(failure_if(!reports.is_empty() && failed == reports.len()))
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
            Ok(failure_if(report.rows.is_empty()))
        }
        Command::Suggest {
            page,
            file,
            url,
            timezone,
            write,
            name,
            pick,
        } => {
            let timezone =
                match timezone {
                    Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
                        app::AppError::Argument {
                            flag: "--timezone",
                            value: zone.clone(),
                            expected: "use an IANA time zone name (Asia/Shanghai, Europe/Berlin)",
                        }
                    })?),
                    None => None,
                };
            let request = app::SuggestRequest {
                url: url.or(page),
                file,
                timezone,
                write,
                name,
                pick,
            };
            let report = app::suggest(&cli.config, &request).await?;
            print_suggestions(&report);
            Ok(failure_if(report.suggestions.is_empty()))
        }
        Command::Import {
            opml,
            source,
            dry_run,
        } => {
            let report = app::import(&cli.config, &opml, source.as_deref(), dry_run)?;
            for warning in &report.plan.warnings {
                println!("warning: {warning}");
            }
            for skipped in &report.plan.skipped {
                println!("skipped: {skipped}");
            }
            for section in &report.plan.sections {
                if dry_run {
                    println!("\n{}", headwire::feeds_edit::render_block(section));
                } else {
                    println!("added: {}/{}", section.source_id, section.id());
                }
            }
            println!(
                "{} feeds {}, {} skipped, {} warnings",
                report.plan.sections.len(),
                if report.written {
                    format!("added to {}", cli.config.display())
                } else if dry_run {
                    "would be added (dry run)".to_string()
                } else {
                    "added".to_string()
                },
                report.plan.skipped.len(),
                report.plan.warnings.len()
            );
            Ok(ExitCode::SUCCESS)
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

/// Prints `headwire suggest` output: per suggestion its selectors, count, first five
/// headlines and a ready section block.
fn print_suggestions(report: &app::SuggestReport) {
    println!("charset: {}", report.charset);
    if report.suggestions.is_empty() {
        println!("no repeated headline blocks found on {}", report.page_url);
    }
    for (i, s) in report.suggestions.iter().enumerate() {
        println!(
            "\n#{} — {} headlines ({} with a parsed time), score {:.0}",
            i + 1,
            s.headlines,
            s.timed,
            s.score
        );
        for (key, value) in s.fields() {
            println!("  {key:<8} {value}");
        }
        for (n, sample) in s.samples.iter().enumerate() {
            println!(
                "  {:>2}. {}\n      {}\n      time: {} → {}\n      labels: {}",
                n + 1,
                sample.title,
                sample.link,
                sample.raw_time.as_deref().unwrap_or("-"),
                sample
                    .time
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "(first-seen)".into()),
                if sample.labels.is_empty() {
                    "-".to_string()
                } else {
                    sample.labels.join(", ")
                }
            );
        }
        println!(
            "\n{}",
            s.section_block("SECTION", "SECTION", &report.page_url)
        );
    }
    if let Some(key) = &report.written {
        println!("wrote {key} to the config; `serve --watch` or SIGHUP picks it up");
    }
}
