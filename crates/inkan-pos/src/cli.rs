//! The command line of `inkan-pos`: commands, flags and their environment variables.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use url::Url;

/// Inkan merchant terminal: scan the shopper's payment code, charge it, wait for the shopper to
/// confirm with their passkey, print a receipt.
///
/// The terminal key is read from the file given with --key-file (which only its owner may read:
/// chmod 600), or else from the INKAN_TERMINAL_KEY environment variable. It is never printed.
#[derive(Debug, Parser)]
#[command(name = "inkan-pos", version, after_help = crate::exit::HELP)]
pub struct Cli {
    /// The Inkan server.
    #[arg(long, env = "INKAN_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    pub server: Url,
    /// A file holding the terminal key; it must not be readable by group or others.
    #[arg(long, value_name = "PATH", global = true)]
    pub key_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Charge the shopper and wait for them to confirm; prints the receipt.
    #[command(after_help = crate::exit::HELP)]
    Charge(ChargeArgs),
    /// Refund a succeeded charge in full; prints the refunded charge.
    #[command(after_help = crate::exit::HELP)]
    Refund {
        /// The charge's id (ch_…), from its receipt.
        charge_id: String,
    },
    /// Show a charge once.
    #[command(after_help = crate::exit::HELP)]
    Status {
        /// The charge's id (ch_…), from its receipt.
        charge_id: String,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("payment_code").required(true).args(["code", "scan"])))]
pub struct ChargeArgs {
    /// The amount in yen (1280 is ¥1,280).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub amount: i64,
    /// What was sold; printed on the receipt and shown to the shopper.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// The payment code as text; `-` reads one line from standard input (a scanner that types).
    #[arg(long, value_name = "TEXT")]
    pub code: Option<String>,
    /// A PNG or JPEG photo or screenshot of the shopper's payment QR code.
    #[arg(long, value_name = "IMAGE")]
    pub scan: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent_and_help_lists_exit_codes() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:") && help.contains("INKAN_TERMINAL_KEY"), "{help}");
    }

    #[test]
    fn charge_needs_exactly_one_source_and_a_positive_amount() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["inkan-pos", "charge"], args].concat());
        assert!(parse(&["--amount", "1280", "--code", "X"]).is_ok());
        assert!(parse(&["--amount", "1280"]).is_err());
        assert!(parse(&["--amount", "1280", "--code", "X", "--scan", "a.png"]).is_err());
        assert!(parse(&["--amount", "0", "--code", "X"]).is_err());
    }
}
