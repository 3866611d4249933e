//! The app as people install it: `cargo xtask bundle` makes its packages, and `cargo xtask test`
//! checks them, installs the Debian one into a fresh Debian 12 (`debian_root`) and uses the app it
//! put there.
//!
//! The Tauri CLI (`@tauri-apps/cli`, pinned among the UI's npm packages) builds the release binary
//! and packages it: a Debian package (.deb, needing only `dpkg-deb`) and an RPM (written by the
//! bundler itself). An AppImage is not made: its tools (linuxdeploy and its plugins) are downloaded
//! while it is built, and these machines reach only the package registries.
//!
//! What the checks prove, beyond "a file was written":
//! - the package's control fields, desktop entry (`desktop-file-validate`) and an icon at every
//!   size the desktop asks for;
//! - every shared library the binary links is provided by a package its `Depends` pull in
//!   (`dpkg-shlibdeps` says which packages it needs; `apt-cache depends --recurse` what the
//!   declared ones bring), so a fresh Debian 12 that installs it can start it;
//! - apt installs it into a fresh Debian 12 (debootstrap's minimal bookworm, no recommended
//!   packages), resolving those dependencies from Debian's archive, and the loader finds every
//!   library the program links there;
//! - the binary installed there opens, shows a payment code a till can read, and pays
//!   (`src-tauri/tests/installed.rs`), then the package purges cleanly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::debian_root::Root;
use crate::{apt, cargo, output, root, run_step};

/// The Debian package's name (the bundler's, from `productName`).
const PACKAGE: &str = "inkan";

/// The sizes the desktop's icon theme is given (`icons/`, made from `icons/icon.svg`).
const ICON_SIZES: [u32; 8] = [16, 24, 32, 48, 64, 128, 256, 512];

/// The packages the checks use: `dpkg-shlibdeps` (dpkg-dev), `desktop-file-validate` and `rpm`.
const CHECK_TOOLS: [&str; 3] = ["dpkg-dev", "desktop-file-utils", "rpm"];

/// The packages, once built.
#[derive(Debug)]
pub struct Bundles {
    pub deb: PathBuf,
    pub rpm: PathBuf,
}

/// `cargo xtask bundle [--install]`: builds the packages, checks them, and says where they are;
/// with `--install`, also what `cargo xtask test` does with them (install into a fresh Debian 12,
/// use, purge).
pub fn run(args: &[String]) -> Result<()> {
    match args {
        [] => {}
        [flag] if flag == "--install" => return test(&crate::keyring::Session::new()?),
        _ => bail!("usage: cargo xtask bundle [--install]"),
    }
    let bundles = build()?;
    check(&bundles)?;
    println!("\nthe app's packages (release build):");
    println!("  Debian, Ubuntu: {}", bundles.deb.display());
    println!("    install: sudo apt install {}", bundles.deb.display());
    println!("  Fedora, openSUSE: {}", bundles.rpm.display());
    println!("  AppImage: not made here (the Tauri CLI downloads linuxdeploy to make one; these machines cannot)");
    Ok(())
}

/// Builds the release app and its .deb and .rpm with the Tauri CLI.
pub fn build() -> Result<Bundles> {
    crate::app::system_packages()?;
    crate::app::ui_build()?;
    let tauri = root().join("ui").join("node_modules").join(".bin").join("tauri");
    ensure!(tauri.is_file(), "no Tauri CLI at {}: `npm ci --prefix ui` installs it", tauri.display());
    run_step(
        "building the app's packages (Tauri CLI: a release build, then .deb and .rpm)",
        Command::new(&tauri).args(["build", "--ci", "--bundles", "deb,rpm"]),
    )?;
    let bundle = target_dir().join("release").join("bundle");
    Ok(Bundles { deb: newest(&bundle.join("deb"), "deb")?, rpm: newest(&bundle.join("rpm"), "rpm")? })
}

/// Where cargo (and the Tauri CLI, which asks cargo) puts what it builds.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The most recently written `*.{extension}` in `dir` (older versions' packages may sit beside it).
fn newest(dir: &Path, extension: &str) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("the Tauri CLI wrote no {}", dir.display()))?;
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == extension) {
            found.push((std::fs::metadata(&path)?.modified()?, path));
        }
    }
    found.into_iter().max().map(|(_, path)| path).with_context(|| format!("no .{extension} in {}", dir.display()))
}

/// The static checks of both packages (see the module's comment).
pub fn check(bundles: &Bundles) -> Result<()> {
    let missing: Vec<&str> = CHECK_TOOLS.into_iter().filter(|p| !apt::is_installed(p)).collect();
    apt::install("bundle", "checking the app's packages needs", &missing)?;
    println!("\n==> checking the packages");
    let field = |name: &str| output(Command::new("dpkg-deb").arg("--field").arg(&bundles.deb).arg(name));
    ensure!(field("Package")? == PACKAGE, "the .deb's package is {:?}, not {PACKAGE:?}", field("Package")?);
    let description = field("Description")?;
    // A synopsis, then the long description in lines a terminal shows whole (Debian policy 3.4).
    ensure!(
        description.lines().count() > 2 && description.lines().all(|l| l.chars().count() <= 80),
        "the .deb's description is not a synopsis and a wrapped long description:\n{description}"
    );
    let depends = field("Depends")?;
    println!("{PACKAGE} {} depends on: {depends}", field("Version")?);

    let unpacked = target_dir().join("bundle-check");
    if unpacked.exists() {
        std::fs::remove_dir_all(&unpacked).with_context(|| format!("removing {}", unpacked.display()))?;
    }
    std::fs::create_dir_all(&unpacked)?;
    output(Command::new("dpkg-deb").arg("--extract").arg(&bundles.deb).arg(&unpacked))?;
    let binary = desktop_entry(&unpacked)?;
    libraries_are_depended_on(&unpacked, &binary, &depends)?;

    let listed = output(Command::new("rpm").args(["--query", "--list", "--package"]).arg(&bundles.rpm))?;
    for wanted in [format!("/{binary}"), "/usr/share/applications/Inkan.desktop".to_owned()] {
        ensure!(listed.lines().any(|l| l == wanted), "the .rpm does not hold {wanted}:\n{listed}");
    }
    println!("packages checked: control fields, desktop entry, icons at {ICON_SIZES:?} px, libraries");
    Ok(())
}

/// Checks the desktop entry (valid, one program that the package holds, an icon at every size);
/// returns the program's path inside the package (`usr/bin/…`).
fn desktop_entry(unpacked: &Path) -> Result<String> {
    let entry = unpacked.join("usr/share/applications/Inkan.desktop");
    ensure!(entry.is_file(), "the .deb holds no desktop entry at /usr/share/applications/Inkan.desktop");
    output(Command::new("desktop-file-validate").arg(&entry)).context("the desktop entry is not valid")?;
    let text = std::fs::read_to_string(&entry)?;
    let key = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
            .map(str::trim)
            .with_context(|| format!("the desktop entry has no {name}=:\n{text}"))
    };
    let binary = format!("usr/bin/{}", key("Exec")?);
    ensure!(unpacked.join(&binary).is_file(), "the desktop entry starts /{binary}, which the package does not hold");
    for size in ICON_SIZES {
        let icon = format!("usr/share/icons/hicolor/{size}x{size}/apps/{}.png", key("Icon")?);
        ensure!(unpacked.join(&icon).is_file(), "the .deb has no {size}×{size} icon at /{icon}");
    }
    for wanted in ["Name", "GenericName", "Comment", "Comment[ja]", "Categories"] {
        key(wanted)?;
    }
    Ok(binary)
}

/// Every package that `dpkg-shlibdeps` says the binary's libraries come from must be among the
/// declared dependencies or what they depend on, recursively.
fn libraries_are_depended_on(unpacked: &Path, binary: &str, depends: &str) -> Result<()> {
    // dpkg-shlibdeps reads the source package's control file from `debian/` in its directory.
    std::fs::create_dir_all(unpacked.join("debian"))?;
    std::fs::write(unpacked.join("debian/control"), "Source: inkan\n\nPackage: inkan\nArchitecture: any\n")?;
    let shlibs = output(Command::new("dpkg-shlibdeps").args(["-O", "-e", binary]).current_dir(unpacked))?;
    let needed = package_names(shlibs.trim().strip_prefix("shlibs:Depends=").unwrap_or(&shlibs));
    let declared = package_names(depends);
    let closure = output(
        Command::new("apt-cache")
            .args(["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks"])
            .args(["--no-replaces", "--no-enhances"])
            .args(&declared),
    )?;
    let reached: BTreeSet<String> = closure
        .lines()
        .filter_map(|l| match l.trim_start().split_once(": ") {
            Some((kind, name)) if kind.ends_with("Depends") => Some(name.trim()),
            Some(_) => None,
            None => Some(l.trim()),
        })
        .map(|name| name.trim_start_matches('|').trim_matches(['<', '>']).split(':').next().unwrap_or("").to_owned())
        .collect();
    let uncovered: Vec<&String> = needed.iter().filter(|p| !reached.contains(*p)).collect();
    ensure!(
        uncovered.is_empty(),
        "the binary links libraries from {uncovered:?}, which the package's Depends ({depends}) do not bring: \
         add them to bundle.linux.deb.depends in src-tauri/tauri.conf.json"
    );
    Ok(())
}

/// The package names of a Depends field (`a (>= 1), b | c` → a, b, c).
fn package_names(field: &str) -> Vec<String> {
    field
        .split([',', '|'])
        .filter_map(|alternative| alternative.split_whitespace().next())
        .map(|name| name.split(':').next().unwrap_or(name).to_owned())
        .collect()
}

/// What `cargo xtask test` does with the package: builds and checks both, installs the .deb into a
/// fresh Debian 12 (`debian_root`), uses the app installed there (`src-tauri/tests/installed.rs`),
/// and purges it there.
pub fn test(keyring: &crate::keyring::Session) -> Result<()> {
    let bundles = build()?;
    check(&bundles)?;
    let root = Root::fresh(&target_dir().join("debian-12"))?;
    let program = install(&root, &bundles.deb)?;
    // The test drives the app with WebKitWebDriver, which must run beside it, in the root. It is
    // installed after the checks above, so it cannot hide a dependency the package lacks.
    run_step(
        "installing the test's WebDriver in the root (webkit2gtk-driver)",
        root.command("apt-get").args(["install", "-y", "--no-install-recommends", "webkit2gtk-driver"]),
    )?;
    root.link_host_path()?;
    let driver = driver_into(&root)?;
    let display = crate::app::Display::start()?;
    let mut test = cargo();
    test.args(["test", "--workspace", "--locked", "--test", "installed", "--", "--ignored"])
        .env("DISPLAY", &display.name)
        .env("INKAN_TAURI_DRIVER", &driver)
        .env("INKAN_INSTALLED_APP", root.path().join(program.strip_prefix("/")?));
    run_step(
        "the installed app, in the fresh Debian 12: opens, shows a readable code, pays",
        &mut keyring.wrap(&test),
    )?;
    run_step("purging the package in the root", root.command("apt-get").args(["purge", "-y", PACKAGE]))?;
    for left in [program.as_path(), Path::new("/usr/share/applications/Inkan.desktop")] {
        ensure!(
            !root.path().join(left.strip_prefix("/")?).exists(),
            "{} is still there after the purge",
            left.display()
        );
    }
    println!("the package installed into a fresh Debian 12, ran, paid and purged cleanly");
    Ok(())
}

/// Installs the .deb into `root` with apt and no recommended packages (so its `Depends` alone
/// must bring everything it needs), and checks that the loader finds every library the program
/// links. Returns the installed program's path in the root.
fn install(root: &Root, deb: &Path) -> Result<PathBuf> {
    run_step("apt-get update in the fresh Debian 12", root.command("apt-get").arg("update"))?;
    let before = root.packages()?.len();
    let inside = Path::new("/var/tmp").join(deb.file_name().context("the .deb has no file name")?);
    std::fs::copy(deb, root.path().join(inside.strip_prefix("/")?))?;
    run_step(
        "installing the .deb into the fresh Debian 12 (apt, its Depends from Debian's archive, no Recommends)",
        root.command("apt-get").args(["install", "-y", "--no-install-recommends"]).arg(&inside),
    )?;
    let added = root.packages()?.len().saturating_sub(before);
    let files = output(root.command("dpkg").args(["--listfiles", PACKAGE]))?;
    let program = files.lines().find(|l| l.starts_with("/usr/bin/")).context("the package installed no program")?;
    let linked = output(root.command("ldd").arg(program))?;
    let missing: Vec<&str> = linked.lines().filter(|l| l.contains("not found")).collect();
    ensure!(
        missing.is_empty(),
        "{program} links libraries the fresh Debian 12 lacks after the install:\n{}",
        missing.join("\n")
    );
    println!(
        "apt installed {PACKAGE} and {} packages it depends on; every library {program} links is there",
        added - 1
    );
    Ok(PathBuf::from(program))
}

/// A `tauri-driver` for the app in `root`: the host's, told to start the root's WebKitWebDriver
/// (which starts the app beside it, in the root). Returns the script that starts it.
fn driver_into(root: &Root) -> Result<PathBuf> {
    let tauri_driver = crate::app::tauri_driver()?;
    let dir = root.path().parent().context("the root is /")?;
    let quoted = |path: &Path| -> Result<String> {
        let text = path.to_str().context("a path that is not UTF-8")?;
        ensure!(!text.contains('\''), "a path with a quote in it: {text}");
        Ok(format!("'{text}'"))
    };
    let native = dir.join("webkitwebdriver-in-root");
    let driver = dir.join("tauri-driver-in-root");
    let scripts = [
        (&native, format!("exec chroot {} /usr/bin/WebKitWebDriver \"$@\"", quoted(root.path())?)),
        (&driver, format!("exec {} --native-driver {} \"$@\"", quoted(&tauri_driver)?, quoted(&native)?)),
    ];
    for (path, line) in scripts {
        std::fs::write(path, format!("#!/bin/sh\n{line}\n"))?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    Ok(driver)
}
