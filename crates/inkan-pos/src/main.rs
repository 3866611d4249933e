//! `inkan-pos`, the merchant terminal: flags in, receipt out; everything else is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = inkan_pos::cli::Cli::parse();
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => ExitCode::from(runtime.block_on(inkan_pos::run(cli))),
        Err(e) => {
            eprintln!("inkan-pos: cannot start: {e}");
            ExitCode::from(inkan_pos::exit::OTHER)
        }
    }
}
