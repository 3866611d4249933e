//! Installing the Debian packages a step needs, when they are missing: with apt-get, as root,
//! saying what it does and why; otherwise an error that says what to install.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Installs `missing` (Debian package names) with apt-get, running `apt-get update` first only if
/// the install fails (a fresh machine often has no package lists). `wanted` says who needs them
/// and why; messages are prefixed with `label`. Nothing to do when `missing` is empty.
pub fn install(label: &str, wanted: &str, missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let packages = missing.join(" ");
    let wanted = format!("{wanted}: {packages}");
    if !is_root()? {
        bail!("{wanted}; install them (`sudo apt-get install --no-install-recommends {packages}`) and run this again");
    }
    let apt = on_path("apt-get").with_context(|| format!("{wanted}, and there is no apt-get to install them"))?;
    eprintln!("{label}: {wanted}; installing with apt-get (first run only)");
    let install = |apt: &Path| {
        Command::new(apt)
            .args(["install", "-y", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
    };
    if install(&apt).context("could not start apt-get")?.success() {
        return Ok(());
    }
    eprintln!("{label}: apt-get install failed; running apt-get update and trying again");
    let updated = Command::new(&apt)
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .context("could not start apt-get update")?;
    if !updated.success() {
        bail!("apt-get update failed ({updated})");
    }
    let status = install(&apt).context("could not start apt-get")?;
    if !status.success() {
        bail!("apt-get install {packages} failed ({status})");
    }
    Ok(())
}

/// Whether the Debian package `name` is installed (for libraries, which have no program to look
/// for on `PATH`). False when there is no dpkg either: then [`install`] says what is needed.
pub fn is_installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["--show", "--showformat=${db:Status-Status}", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout == b"installed")
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    let path: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

pub fn is_root() -> Result<bool> {
    let out = Command::new("id").arg("-u").stdin(Stdio::null()).output().context("could not run id -u")?;
    Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}
