//! What the `inkan-pos` binary does with its flags: runs the command, prints the receipt on
//! stdout and any error on stderr, and picks the exit code.

#![allow(clippy::print_stdout, reason = "this module is the command's output: receipts go to stdout")]

use std::io::BufRead;

use inkan_core::ChargeStatus;

use crate::charge::{ChargeRequest, CodeSource, Feedback, charge};
use crate::cli::{ChargeArgs, Cli, Command};
use crate::client::TerminalClient;
use crate::error::PosError;
use crate::receipt::{printable, receipt};
use crate::{exit, key};

/// Runs one command and returns the process exit code (see [`exit`]).
pub async fn run(cli: Cli) -> u8 {
    let charging = matches!(cli.command, Command::Charge(_));
    match execute(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("inkan-pos: {}", printable(&e.to_string()));
            if let Some(hint) = e.hint() {
                eprintln!("  {hint}");
            }
            if charging && matches!(e, PosError::ConnectionLost { .. } | PosError::ServerFailing { .. }) {
                eprintln!(
                    "  the charge may have been created: if the shopper's app asks to confirm it, ask them to decline"
                );
            }
            e.exit_code()
        }
    }
}

async fn execute(cli: Cli) -> Result<u8, PosError> {
    let key = key::load(cli.key_file.as_deref(), std::env::var_os(key::KEY_ENV))?;
    if cli.server.scheme() == "http" && !is_loopback(&cli.server) {
        eprintln!("inkan-pos: warning: {} is not HTTPS: the terminal key travels unencrypted", cli.server);
    }
    let client = TerminalClient::new(cli.server, key)?;
    match cli.command {
        Command::Charge(args) => {
            let request = charge_request(args)?;
            let charge = charge(&client, &request, Feedback::for_stderr()).await?;
            print!("{}", receipt(&charge));
            match charge.status {
                ChargeStatus::Succeeded => {}
                ChargeStatus::Declined => eprintln!("inkan-pos: the shopper declined the payment"),
                ChargeStatus::Expired => eprintln!("inkan-pos: the shopper did not confirm in time"),
                ChargeStatus::Refunded => eprintln!("inkan-pos: the charge was refunded while this terminal waited"),
                ChargeStatus::PendingConfirmation => eprintln!("inkan-pos: the shopper has not decided yet"),
                ChargeStatus::HeldForReview => {
                    eprintln!(
                        "inkan-pos: Inkan is still checking this payment; nothing is paid until the shopper confirms"
                    )
                }
            }
            Ok(exit::for_status(charge.status))
        }
        Command::Refund { charge_id } => {
            print!("{}", receipt(&client.refund(&charge_id).await?));
            Ok(exit::SUCCEEDED)
        }
        Command::Status { charge_id } => {
            print!("{}", receipt(&client.get_charge(&charge_id, None).await?));
            Ok(exit::SUCCEEDED)
        }
    }
}

fn charge_request(args: ChargeArgs) -> Result<ChargeRequest, PosError> {
    let code = match (args.code, args.scan) {
        (_, Some(path)) => CodeSource::ImageFile(path),
        (Some(text), None) if text == "-" => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(PosError::Stdin)?;
            CodeSource::Text(line)
        }
        (Some(text), None) => CodeSource::Text(text),
        // clap requires one of the two.
        (None, None) => CodeSource::Text(String::new()),
    };
    Ok(ChargeRequest { amount: args.amount, description: args.description, code })
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
