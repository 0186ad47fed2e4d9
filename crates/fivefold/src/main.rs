//! `fivefold`: the one binary. Each subcommand of `interfaces.md` is a module
//! under `commands/`; this file parses the command line and reports errors as
//! one line on stderr with a non-zero exit.

use std::process::ExitCode;

use clap::Parser as _;

mod cli;
mod commands;
mod progress;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.command.default_log_level());
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FIVEFOLD_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},datafusion=warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
