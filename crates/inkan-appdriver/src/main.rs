//! `inkan-app-story`: plays the shopper's story on the real app window and keeps a screenshot of
//! every screen. `cargo xtask demo` runs it against the server it started.

#![allow(clippy::print_stdout, reason = "a command-line tool reporting to the person who ran it")]

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use inkan_appdriver::story::{self, Setting};
use inkan_appdriver::{AppUnderTest, Launch};
use inkan_pos::{TerminalClient, TerminalKey};

#[derive(Debug, Parser)]
#[command(about = "Plays the shopper's story on the real Inkan app and keeps a screenshot of every screen")]
struct Args {
    /// The issuer server.
    #[arg(long)]
    server: String,
    /// The passkey origin the server expects (default: the server's address).
    #[arg(long)]
    origin: Option<String>,
    /// A file holding the till's terminal key.
    #[arg(long)]
    terminal_key_file: PathBuf,
    /// The shop's name, as the server knows it.
    #[arg(long)]
    merchant: String,
    /// The app binary (built with `tauri/custom-protocol`).
    #[arg(long)]
    app: PathBuf,
    #[arg(long, default_value = "tauri-driver")]
    tauri_driver: PathBuf,
    /// Where the app keeps its wallet profile (a fresh directory).
    #[arg(long)]
    home: PathBuf,
    /// Where to write the screenshots.
    #[arg(long)]
    screenshots: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let origin = args.origin.clone().unwrap_or_else(|| args.server.clone());
    let key = std::fs::read_to_string(&args.terminal_key_file).context("reading the terminal key")?;
    let terminal = TerminalClient::new(args.server.parse()?, TerminalKey::new(key.trim(), "--terminal-key-file")?)?;
    std::fs::create_dir_all(&args.screenshots)?;
    let launch = Launch::new(args.app.clone(), args.tauri_driver.clone(), &args.home, &args.server, &origin);
    let app = AppUnderTest::launch(&launch).await?;
    let setting = Setting {
        terminal: &terminal,
        merchant: &args.merchant,
        server: &args.server,
        origin: &origin,
        screenshots: Some(&args.screenshots),
        desktop: None,
        axe: None,
        second_device_home: None,
    };
    let played = story::play(&app, &setting).await;
    if played.is_err() {
        // What the window showed when it went wrong.
        let _ = app.save_screenshot(&args.screenshots, "failure").await;
    }
    app.close().await?;
    let outcome = played?;
    println!("recovery codes shown once: {}", outcome.recovery_codes);
    for (amount, status) in &outcome.charges {
        println!("charge ¥{amount}: {status}");
    }
    println!("balances seen: {}", outcome.balances.join(" → "));
    println!("history export: {}", outcome.export);
    println!("wallet closed: {}", outcome.closed);
    for shot in &outcome.screenshots {
        println!("screenshot: {}", shot.display());
    }
    Ok(())
}
