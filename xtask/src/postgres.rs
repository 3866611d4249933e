//! A PostgreSQL server for the tests, found, started or made, so that tests against PostgreSQL run
//! in `cargo xtask test` instead of quietly skipping for want of a server.
//!
//! The tests get an admin URL in `INKAN_TEST_POSTGRES_URL` and create (and drop) a fresh database
//! each, so its user must be allowed to `CREATE DATABASE`. The first option that works wins:
//!
//! 1. `INKAN_TEST_POSTGRES_URL`, if already set. Someone chose that server, so if it does not work
//!    we fail rather than swap in another one behind their back.
//! 2. A server on 127.0.0.1:5432 that lets `postgres` in without a password.
//! 3. A Debian cluster that `pg_lsclusters` knows, started with `pg_ctlcluster` if it is down.
//! 4. When no PostgreSQL server is installed at all and we are root: `apt-get install postgresql`,
//!    then 3.
//! 5. A throwaway cluster of our own in `/tmp/inkan-postgres`, port 55432, trust auth. It survives
//!    between runs (started again, not made again) and is left running; the stop command is printed.
//!
//! Progress goes to stderr, so that `cargo xtask pg-url` prints nothing but the URL on stdout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The variable the tests read their admin URL from.
pub const ENV: &str = "INKAN_TEST_POSTGRES_URL";

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Away from 5432 so that the throwaway cluster never competes with a system server.
const THROWAWAY_PORT: u16 = 55432;
const THROWAWAY_DIR: &str = "/tmp/inkan-postgres";

/// Long enough for a cold start on a slow CI machine; short enough that a server that will never
/// come up fails the run soon.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Seconds for each connection attempt, so that a port that swallows packets cannot stall us.
const CONNECT_TIMEOUT: &str = "3";

/// What the tests need: a login that works and may create databases. `t` or `f`.
const CAN_CREATE_DATABASE: &str = "select rolcreatedb or rolsuper from pg_roles where rolname = current_user";

/// An admin URL of a PostgreSQL server that accepts connections and lets its user
/// `CREATE DATABASE`, trying the options in the module documentation in order.
pub fn ensure() -> Result<String> {
    if let Some(url) = std::env::var(ENV).ok().filter(|u| !u.trim().is_empty()) {
        check(&url).with_context(|| {
            format!(
                "{ENV} is set to {}, but that server is not usable; fix it, or unset {ENV} to let \
                 xtask find or start a server",
                redact(&url)
            )
        })?;
        say(&format!("using the server in {ENV} ({})", redact(&url)));
        return Ok(url);
    }
    let mut failures = vec![format!("{ENV}: not set")];

    match check(DEFAULT_URL) {
        Ok(()) => {
            say("using the server already running at 127.0.0.1:5432");
            return Ok(DEFAULT_URL.to_owned());
        }
        Err(e) => failures.push(failed("a server at 127.0.0.1:5432", &e)),
    }

    match debian_cluster() {
        Ok(url) => return Ok(url),
        Err(e) => failures.push(failed("a Debian cluster (pg_lsclusters)", &e)),
    }

    if server_bin_dir().is_none() {
        match install().and_then(|()| debian_cluster()) {
            Ok(url) => return Ok(url),
            Err(e) => failures.push(failed("installing PostgreSQL with apt-get", &e)),
        }
    }

    match throwaway_cluster() {
        Ok(url) => return Ok(url),
        Err(e) => failures.push(failed("a throwaway cluster", &e)),
    }

    bail!(
        "no PostgreSQL server for the tests. What was tried:\n  - {}\n\
         To fix it by hand, either:\n  \
         - install PostgreSQL (Debian or Ubuntu: `sudo apt-get install postgresql`) and run this again, or\n  \
         - point the tests at a server whose user may CREATE DATABASE:\n      \
         export {ENV}=postgres://USER:PASSWORD@HOST:PORT/postgres",
        failures.join("\n  - ")
    )
}

/// `cargo xtask pg-url [--throwaway]`: prints the URL `ensure` (or, with `--throwaway`, the
/// throwaway cluster) gives, so that a developer can `export INKAN_TEST_POSTGRES_URL=$(…)`.
pub fn print_url(args: &[String]) -> Result<()> {
    let url = match args {
        [] => ensure()?,
        [flag] if flag == "--throwaway" => throwaway_cluster()?,
        _ => bail!("pg-url: unexpected arguments {args:?}; the only option is --throwaway"),
    };
    println!("{url}");
    Ok(())
}

/// Step 3: a cluster `pg_lsclusters` lists; one already up is used, one that is down is started.
fn debian_cluster() -> Result<String> {
    let lsclusters = on_path("pg_lsclusters").context("pg_lsclusters is not installed (package postgresql-common)")?;
    let out = capture(Command::new(lsclusters).arg("--no-header"))?;
    let mut clusters = parse_lsclusters(&String::from_utf8_lossy(&out.stdout));
    if clusters.is_empty() {
        bail!("pg_lsclusters lists no cluster");
    }
    // Running ones first, so that nothing is started when something already runs; then the
    // newest version, the one a fresh install would use.
    clusters
        .sort_by(|a, b| b.online.cmp(&a.online).then_with(|| version_key(&b.version).cmp(&version_key(&a.version))));
    let mut problems = Vec::new();
    for cluster in &clusters {
        match use_cluster(cluster) {
            Ok(url) => return Ok(url),
            Err(e) => problems.push(format!("{}/{}: {e:#}", cluster.version, cluster.name)),
        }
    }
    bail!("{}", problems.join("; "))
}

fn use_cluster(cluster: &Cluster) -> Result<String> {
    let url = format!("postgres://{}@127.0.0.1:{}/postgres", cluster.owner, cluster.port);
    let place = format!("Debian cluster {}/{} at 127.0.0.1:{}", cluster.version, cluster.name, cluster.port);
    if cluster.online {
        check(&url).context("running, but not usable")?;
        say(&format!("using the {place}, already running"));
        return Ok(url);
    }
    say(&format!("starting the stopped {place}"));
    run_visible(Command::new("pg_ctlcluster").args([
        "--skip-systemctl-redirect",
        &cluster.version,
        &cluster.name,
        "start",
    ]))
    .with_context(|| format!("pg_ctlcluster could not start it (its log: {})", cluster.log))?;
    // A Debian cluster's own pg_hba.conf asks for a password over TCP; we leave a system
    // server's authentication alone and let the throwaway cluster take over instead.
    let usable = wait_ready(&url).and_then(|()| {
        check(&url).context("started, but not usable (its pg_hba.conf may ask for a password over TCP)")
    });
    if let Err(e) = usable {
        return Err(stopped_again(
            e,
            Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &cluster.version, &cluster.name, "stop"]),
        ));
    }
    say(&format!("using the {place}, which was stopped and is now started"));
    Ok(url)
}

/// Step 4, only when no server binaries exist at all.
fn install() -> Result<()> {
    if !is_root()? {
        bail!("no PostgreSQL server is installed, and we are not root, so cannot apt-get install it");
    }
    let apt = on_path("apt-get").context("no PostgreSQL server is installed, and there is no apt-get to install it")?;
    say("no PostgreSQL server is installed; installing it with apt-get (first run only)");
    run_visible(Command::new(&apt).arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    run_visible(
        Command::new(&apt)
            .args(["install", "-y", "--no-install-recommends", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Step 5: our own cluster in `/tmp/inkan-postgres` on port 55432, trust auth, reused if there.
pub fn throwaway_cluster() -> Result<String> {
    let url = format!("postgres://postgres@127.0.0.1:{THROWAWAY_PORT}/postgres");
    let dir = Path::new(THROWAWAY_DIR);
    let data = dir.join("data");
    let log = dir.join("server.log");
    let bin = server_bin_dir().context("initdb and pg_ctl are not installed (Debian or Ubuntu: package postgresql)")?;
    let pg_ctl = bin.join("pg_ctl");
    let stop = format!(
        "{}{} -D {} stop",
        if is_root()? { "runuser -u postgres -- " } else { "" },
        pg_ctl.display(),
        data.display()
    );

    if check(&url).is_ok() {
        say(&format!("using the throwaway cluster already running at 127.0.0.1:{THROWAWAY_PORT} (stop it: {stop})"));
        return Ok(url);
    }

    prepare_dir(dir)?;
    if !data.join("PG_VERSION").is_file() {
        say(&format!("making a throwaway cluster in {}", data.display()));
        let out = capture(
            as_postgres(&bin.join("initdb"))?
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync", "-D"])
                .arg(&data),
        )?;
        if !out.status.success() {
            bail!("initdb failed ({}): {}", out.status, one_line(&out.stderr));
        }
    }
    // -k /tmp: the default socket directory (/var/run/postgresql) may not exist or not be ours.
    let started = run_visible(
        as_postgres(&pg_ctl)?
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!("-p {THROWAWAY_PORT} -k /tmp -h 127.0.0.1"))
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "30", "start"]),
    );
    if let Err(e) = started {
        bail!("{e:#}\nthe end of {}:\n{}\n(to start afresh: remove {})", log.display(), log_tail(&log), dir.display());
    }
    let usable = wait_ready(&url).and_then(|()| check(&url).context("started, but not usable"));
    if let Err(e) = usable {
        return Err(stopped_again(e, as_postgres(&pg_ctl)?.arg("-D").arg(&data).args(["-m", "fast", "stop"])));
    }
    say(&format!(
        "using a throwaway cluster at 127.0.0.1:{THROWAWAY_PORT}, data in {}; it keeps running (stop it: {stop})",
        data.display()
    ));
    Ok(url)
}

/// Stops a server we started but cannot use, so that a failed attempt leaves things as they were
/// (a server nobody can reach would otherwise keep running), and says so in the error.
fn stopped_again(error: anyhow::Error, stop: &mut Command) -> anyhow::Error {
    match run_visible(stop) {
        Ok(()) => anyhow::anyhow!("{error:#} (so it was stopped again)"),
        Err(e) => anyhow::anyhow!("{error:#} (and stopping it again failed too: {e:#})"),
    }
}

/// Makes the throwaway cluster's parent directory, owned by whoever runs the server.
fn prepare_dir(dir: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        // /tmp is shared: refuse anything but a plain directory, so that nobody can redirect us.
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => bail!("{} exists but is not a directory; remove it", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("looking at {}", dir.display())),
    }
    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    if is_root()? {
        let out = capture(Command::new("chown").arg("postgres").arg(dir))?;
        if !out.status.success() {
            bail!("chown postgres {} failed: {}", dir.display(), one_line(&out.stderr));
        }
    }
    Ok(())
}

/// The command to run `program` as the cluster's owner: initdb and postgres refuse to run as root.
fn as_postgres(program: &Path) -> Result<Command> {
    if !is_root()? {
        return Ok(Command::new(program));
    }
    let has_user = capture(Command::new("id").args(["-u", "postgres"]))?.status.success();
    if !has_user {
        bail!(
            "we are root, and initdb refuses to run as root, but there is no `postgres` user to run it as \
             (make one: useradd --system --shell /bin/sh postgres)"
        );
    }
    let runuser = on_path("runuser").context("we are root and need runuser (util-linux) to run initdb as postgres")?;
    let mut command = Command::new(runuser);
    command.args(["-u", "postgres", "--"]).arg(program);
    // The postgres user may not be allowed into our working directory.
    command.current_dir("/tmp");
    Ok(command)
}

/// Checks that `url` lets us in and may create databases.
fn check(url: &str) -> Result<()> {
    let psql =
        pg_bin("psql").context("psql is not installed, so no server can be checked (package postgresql-client)")?;
    // -X: ignore ~/.psqlrc; -w: never prompt for a password, which would hang an unattended run.
    let out = capture(
        Command::new(psql)
            .args(["-X", "-w", "-tA", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", CAN_CREATE_DATABASE])
            .env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT),
    )?;
    if !out.status.success() {
        bail!("{}", one_line(&out.stderr));
    }
    match String::from_utf8_lossy(&out.stdout).trim() {
        "t" => Ok(()),
        "f" => bail!("its user may not CREATE DATABASE (grant it: ALTER ROLE <user> CREATEDB)"),
        other => bail!("unexpected answer from psql: {other:?}"),
    }
}

/// Waits, boundedly, until the server at `url` accepts connections.
fn wait_ready(url: &str) -> Result<()> {
    let pg_isready = pg_bin("pg_isready").context("pg_isready is not installed (package postgresql-client)")?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let out = capture(Command::new(&pg_isready).args(["-t", CONNECT_TIMEOUT, "-d", url]))?;
        if out.status.success() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "not accepting connections after {} s: {}",
                READY_TIMEOUT.as_secs(),
                one_line(&[out.stdout, out.stderr].concat())
            );
        }
        sleep(POLL_EVERY);
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Cluster {
    version: String,
    name: String,
    port: String,
    online: bool,
    owner: String,
    log: String,
}

/// Parses `pg_lsclusters --no-header`: version, name, port, status, owner, data directory, log.
fn parse_lsclusters(text: &str) -> Vec<Cluster> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let version = fields.next()?.to_owned();
            let name = fields.next()?.to_owned();
            let port = fields.next()?.to_owned();
            // "online", "online,recovery", "down", "down,binaries_missing", …
            let online = fields.next()?.starts_with("online");
            let owner = fields.next()?.to_owned();
            let _data = fields.next()?;
            let log = fields.next().unwrap_or("<unknown>").to_owned();
            Some(Cluster { version, name, port, online, owner, log })
        })
        .collect()
}

/// "9.6" < "15": versions compare as numbers, not text.
fn version_key(version: &str) -> Vec<u32> {
    version.split('.').map(|part| part.parse().unwrap_or(0)).collect()
}

/// The newest `/usr/lib/postgresql/<version>/bin` (Debian keeps server tools off PATH), else the
/// directory of an `initdb` on PATH; only where initdb and pg_ctl sit side by side, so that both
/// come from the same version.
fn server_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    versioned_bin_dirs()
        .into_iter()
        .find(|dir| complete(dir))
        .or_else(|| on_path("initdb").and_then(|p| p.parent().map(Path::to_path_buf)).filter(|dir| complete(dir)))
}

/// A client tool: from PATH first (the one the person chose), else from a versioned directory.
fn pg_bin(name: &str) -> Option<PathBuf> {
    on_path(name).or_else(|| versioned_bin_dirs().into_iter().map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// `/usr/lib/postgresql/*/bin`, newest version first.
fn versioned_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<String> =
        entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    versions.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
    versions
        .into_iter()
        .map(|v| Path::new("/usr/lib/postgresql").join(v).join("bin"))
        .filter(|dir| dir.is_dir())
        .collect()
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn is_root() -> Result<bool> {
    let out = capture(Command::new("id").arg("-u"))?;
    Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a command that exits by itself and returns what it said.
fn capture(command: &mut Command) -> Result<Output> {
    // The program only, not its arguments: one of them may be a URL with a password.
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdin(Stdio::null()).output().with_context(|| format!("could not start {program}"))
}

/// Runs a command with its output shown on our stderr, and fails if it fails. Used for commands
/// that start a server: the server may inherit the output, and capturing it would then wait for
/// the server to exit.
fn run_visible(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn say(message: &str) {
    eprintln!("postgres: {message}");
}

/// Reports a failed option as it happens and returns it for the summary.
fn failed(option: &str, error: &anyhow::Error) -> String {
    let line = format!("{option}: {error:#}");
    say(&format!("{line} (trying the next option)"));
    line
}

/// A tool's message on one line, so that the summary stays a list.
fn one_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() { "(no message)".to_owned() } else { lines.join(" / ") }
}

fn log_tail(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        }
        Err(e) => format!("(cannot read it: {e})"),
    }
}

/// The URL with any password replaced by `***`: a URL from the environment may carry one, and
/// secrets never print.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) if query.contains("password") => format!("{path}?***"),
        _ => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact("postgres://u:s3cret@db:5432/postgres"), "postgres://u:***@db:5432/postgres");
        assert_eq!(redact("postgres://u:p@ss@db/x"), "postgres://u:***@db/x");
        assert_eq!(redact("postgres://u@db/x?password=s3cret&sslmode=require"), "postgres://u@db/x?***");
        assert_eq!(redact("postgres://u@db?sslmode=require"), "postgres://u@db?sslmode=require");
        assert_eq!(redact("host=db password=s3cret"), "(not a URL)");
    }

    #[test]
    fn parses_pg_lsclusters() {
        let text = "15  main    5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n\
                    9.6 old     5433 down,binaries_missing postgres /var/lib/postgresql/9.6/old\n";
        let clusters = parse_lsclusters(text);
        assert_eq!(clusters.len(), 2);
        assert_eq!(
            clusters[0],
            Cluster {
                version: "15".into(),
                name: "main".into(),
                port: "5432".into(),
                online: true,
                owner: "postgres".into(),
                log: "/var/log/postgresql/postgresql-15-main.log".into(),
            }
        );
        assert!(!clusters[1].online);
        assert_eq!(clusters[1].log, "<unknown>");
        assert!(version_key("15") > version_key("9.6"));
    }
}
