//! A fresh Debian 12 for the app's package to be installed into: what a shopper's machine has
//! before they install Inkan, not this build machine with its development libraries.
//!
//! `debootstrap --variant=minbase bookworm` makes the base once per machine (about 30 s), kept
//! untouched under the build directory. Each run copies it into a throwaway root, points apt at
//! Debian's bookworm, -updates and -security archives, and mounts what a desktop program needs
//! from the host: `/proc`, `/sys`, `/dev` (with its `pts` and `shm`) and `/tmp` (the X display's
//! socket, the test's temporary directories and the keyring's session bus). Downloaded packages
//! are kept between runs (the root's apt archive is a directory outside it), so only the first
//! run downloads them.
//!
//! Dropping the root unmounts all of it, then deletes it only if nothing is still mounted below
//! it: deleting a root whose `/tmp` or `/dev` is still the host's would delete the host's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};

use crate::apt;

/// Debian's archives, as a fresh Debian 12 install names them.
const SOURCES: &str = "deb http://deb.debian.org/debian bookworm main\n\
                       deb http://deb.debian.org/debian bookworm-updates main\n\
                       deb http://deb.debian.org/debian-security bookworm-security main\n";

/// The host's directories a desktop program in the root uses (mounted in this order).
const BINDS: [&str; 5] = ["/dev", "/dev/pts", "/dev/shm", "/sys", "/tmp"];

/// Marks a base that debootstrap finished (an interrupted one is made again).
const COMPLETE: &str = ".inkan-debootstrap-complete";

/// A throwaway copy of a fresh Debian 12, with the host's devices, display and `/tmp` mounted.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    /// What is mounted, in the order it was mounted.
    mounted: Vec<PathBuf>,
}

impl Root {
    /// A fresh root under `dir` (made from the base there, which is made first if need be).
    pub fn fresh(dir: &Path) -> Result<Root> {
        ensure!(apt::is_root()?, "a fresh Debian root needs root (chroot and mount): run this as root");
        let missing: Vec<&str> = ["debootstrap"].into_iter().filter(|p| !apt::is_installed(p)).collect();
        apt::install("debian-root", "a fresh Debian 12 for the package's install test needs", &missing)?;
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let base = base(&dir)?;
        let path = dir.join("root");
        if path.exists() {
            // Left by a run that was killed before it could clean up.
            remove_unmounted(&path)?;
        }
        let copied = Command::new("cp").arg("-a").arg(&base).arg(&path).status().context("could not start cp")?;
        ensure!(copied.success(), "copying the Debian base {} failed ({copied})", base.display());
        std::fs::remove_file(path.join(COMPLETE))?;
        std::fs::write(path.join("etc/apt/sources.list"), SOURCES)?;
        std::fs::copy("/etc/resolv.conf", path.join("etc/resolv.conf")).context("copying /etc/resolv.conf")?;
        let mut root = Root { path, mounted: Vec::new() };
        root.mount(&["-t", "proc", "proc"], "proc")?;
        for host in BINDS {
            root.mount(&["--bind", host], host.trim_start_matches('/'))?;
        }
        let archives = dir.join("apt-archives");
        std::fs::create_dir_all(archives.join("partial"))?;
        root.mount(&["--bind", &archives.display().to_string()], "var/cache/apt/archives")?;
        Ok(root)
    }

    /// Where the root is, on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn mount(&mut self, args: &[&str], inside: &str) -> Result<()> {
        let target = self.path.join(inside);
        std::fs::create_dir_all(&target)?;
        let status = Command::new("mount").args(args).arg(&target).status().context("could not start mount")?;
        ensure!(status.success(), "mount {} {} failed ({status})", args.join(" "), target.display());
        self.mounted.push(target);
        Ok(())
    }

    /// `program args…` inside the root, as root, with a clean environment.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("chroot");
        command
            .arg(&self.path)
            .arg(program)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null());
        command
    }

    /// The packages installed in the root.
    pub fn packages(&self) -> Result<Vec<String>> {
        let listed = crate::output(self.command("dpkg-query").args(["--show", "--showformat=${Package}\\n"]))?;
        Ok(listed.lines().map(str::to_owned).collect())
    }

    /// Makes the root's host path name the same place inside the root (a relative link from
    /// `<root><root>` to the root's `/`), so that a program the test names by its host path, as
    /// it must to check it exists, is found when the root's WebDriver starts it.
    pub fn link_host_path(&self) -> Result<()> {
        let link = self.path.join(self.path.strip_prefix("/")?);
        let parent = link.parent().context("the root is /")?;
        std::fs::create_dir_all(parent)?;
        let depth = parent.strip_prefix(&self.path)?.components().count();
        let target: PathBuf = std::iter::repeat_n("..", depth).collect();
        std::os::unix::fs::symlink(&target, &link).with_context(|| format!("linking {}", link.display()))?;
        ensure!(link.join("etc/debian_version").is_file(), "{} does not lead to the root", link.display());
        Ok(())
    }

    /// Ends every program still running in the root (a WebDriver whose parent was killed, say),
    /// so that nothing holds its mounts.
    fn end_programs(&self) {
        let Ok(processes) = std::fs::read_dir("/proc") else { return };
        for process in processes.flatten() {
            let pid = process.file_name();
            let in_root = std::fs::read_link(process.path().join("root")).is_ok_and(|root| root == self.path);
            if in_root && pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                let _ = Command::new("kill").arg("-KILL").arg(&pid).status();
            }
        }
    }

    fn unmount(&mut self) -> Result<()> {
        self.end_programs();
        while let Some(target) = self.mounted.pop() {
            let status = Command::new("umount").arg(&target).status().context("could not start umount")?;
            if !status.success() {
                // Something in the root still uses it (a program the test left behind): detach it
                // now, and the kernel lets go of it when that program ends.
                let lazy = Command::new("umount").arg("--lazy").arg(&target).status()?;
                ensure!(lazy.success(), "could not unmount {} ({lazy})", target.display());
            }
        }
        Ok(())
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let cleaned = self.unmount().and_then(|()| remove_unmounted(&self.path));
        if let Err(e) = cleaned {
            eprintln!("could not clean up the Debian root {}: {e:#}", self.path.display());
        }
    }
}

/// The pristine base under `dir`, made with debootstrap if there is none.
fn base(dir: &Path) -> Result<PathBuf> {
    let base = dir.join("base");
    if base.join(COMPLETE).is_file() {
        return Ok(base);
    }
    if base.exists() {
        remove_unmounted(&base)?;
    }
    crate::run_step(
        "making a fresh Debian 12 (debootstrap --variant=minbase bookworm; first run only)",
        Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&base)
            .arg("http://deb.debian.org/debian")
            .stdin(Stdio::null()),
    )?;
    std::fs::write(base.join(COMPLETE), "")?;
    Ok(base)
}

/// Deletes `path`, refusing if anything is mounted at or below it.
fn remove_unmounted(path: &Path) -> Result<()> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    if let Some(point) = mounted_below(&mounts, path) {
        bail!("{point} is still mounted: not deleting {} (unmount it, then delete it)", path.display());
    }
    std::fs::remove_dir_all(path).with_context(|| format!("deleting {}", path.display()))
}

/// The first mount point in `mountinfo` (`/proc/self/mountinfo`'s text) at or below `path`.
fn mounted_below<'a>(mountinfo: &'a str, path: &Path) -> Option<&'a str> {
    // The fifth field is the mount point (spaces and the like in it escaped as octal, which does
    // not matter for the paths this module makes).
    mountinfo.lines().filter_map(|line| line.split(' ').nth(4)).find(|point| Path::new(point).starts_with(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw
90 22 254:1 /tmp /var/roots/root/tmp rw,relatime shared:1 - ext4 /dev/vda rw
91 22 0:5 / /var/roots/rootless/dev rw,nosuid shared:2 - devtmpfs udev rw
";

    #[test]
    fn a_root_with_the_hosts_tmp_still_mounted_in_it_is_not_deleted() {
        assert_eq!(mounted_below(MOUNTINFO, Path::new("/var/roots/root")), Some("/var/roots/root/tmp"));
        assert_eq!(mounted_below(MOUNTINFO, Path::new("/var/roots/root/tmp")), Some("/var/roots/root/tmp"));
    }

    #[test]
    fn a_mount_beside_the_root_whose_name_begins_with_the_roots_is_not_below_it() {
        let beside: String = MOUNTINFO.lines().filter(|l| !l.contains("/root/tmp")).map(|l| format!("{l}\n")).collect();
        assert_eq!(mounted_below(&beside, Path::new("/var/roots/root")), None);
        assert_eq!(mounted_below(&beside, Path::new("/var/roots/rootless")), Some("/var/roots/rootless/dev"));
    }
}
