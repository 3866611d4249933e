//! `cargo xtask test`: the one command CI runs. It grows with the product.

use anyhow::Result;

use crate::{cargo, run_step};

pub fn run() -> Result<()> {
    run_step("formatting", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run_step(
        "clippy (warnings are errors)",
        cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    run_step("tests", cargo().args(["test", "--workspace", "--locked"]))?;
    crate::fuzz::smoke()?;
    println!("\nall checks passed");
    Ok(())
}
