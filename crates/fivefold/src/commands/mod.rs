//! One module per subcommand.

mod check_config;
mod generate;
mod replay;
mod sql;

use crate::cli::{Cli, Command};

/// Runs the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(a) => generate::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Sql(a) => sql::run(a),
        Command::CheckConfig(a) => check_config::run(a),
    }
}
