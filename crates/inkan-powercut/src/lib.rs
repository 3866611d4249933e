//! A power cut for tests: every write that was not made durable is lost.
//!
//! `kill -9` is no power cut: the operating system keeps the process's writes in its page cache
//! and writes them out later, so a program that never calls `fsync` survives it. This crate models
//! what a disk keeps when the power goes, as a strict journaling file system does:
//! - a file's content is what it held at its last `fsync`/`fdatasync` (nothing, if never synced);
//! - a directory's names are those it held at its last `fsync` of the directory.
//!
//! The preload library (`preload/`, `libinkan_powercut_preload.so`, loaded with `LD_PRELOAD`)
//! calls [`on_sync`] before each real `fsync`/`fdatasync` of a file under the watched directory:
//! it copies what the sync makes durable into a shadow store. After the process is killed,
//! [`restore`] rebuilds the watched directory from the shadow store alone, exactly as the disk
//! would be found after the cut, and makes that the new durable state ([`seed`]).
//!
//! Watched: every file and directory under `INKAN_POWERCUT_WATCH`; shadows in
//! `INKAN_POWERCUT_SHADOW`. With `INKAN_POWERCUT_DROP_SYNCS=1` the library plants the bug the test
//! must catch: every sync under the watched directory returns success without reaching the disk
//! (what `PRAGMA synchronous = OFF` does, or a program that never syncs).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The environment variables the preload library reads.
pub const WATCH: &str = "INKAN_POWERCUT_WATCH";
pub const SHADOW: &str = "INKAN_POWERCUT_SHADOW";
pub const DROP_SYNCS: &str = "INKAN_POWERCUT_DROP_SYNCS";

/// The preload library of the target directory this program was built into
/// (`<target>/debug/libinkan_powercut_preload.so`), built first if it is not there: for tests,
/// which run from `<target>/debug/deps`.
pub fn preload_library() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let debug = exe
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "debug"))
        .ok_or_else(|| io::Error::other(format!("{} is not in a target/debug directory", exe.display())))?;
    let library = debug.join("libinkan_powercut_preload.so");
    if !library.exists() {
        let target = debug.parent().unwrap_or(debug);
        let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["build", "--quiet", "-p", "inkan-powercut-preload"])
            .env("CARGO_TARGET_DIR", target)
            .status()?;
        if !status.success() || !library.exists() {
            return Err(io::Error::other(format!("building {} failed ({status})", library.display())));
        }
    }
    Ok(library)
}

/// What a process with the preload library is told to do.
#[derive(Debug, Clone)]
struct Config {
    watch: PathBuf,
    shadow: PathBuf,
    drop_syncs: bool,
}

fn config() -> Option<&'static Config> {
    static CONFIG: OnceLock<Option<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let watch = fs::canonicalize(std::env::var_os(WATCH)?).ok()?;
            let shadow = PathBuf::from(std::env::var_os(SHADOW)?);
            let drop_syncs = std::env::var_os(DROP_SYNCS).is_some_and(|v| v == "1");
            Some(Config { watch, shadow, drop_syncs })
        })
        .as_ref()
}

/// What the preload library does with one sync call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Sync for real (recorded first, if under the watched directory).
    Real,
    /// Return success without syncing: the planted bug.
    Drop,
}

/// Called by the preload library before it syncs `fd`: records what the sync makes durable when
/// `fd` is a file or directory under the watched directory. Never fails the sync: a shadow that
/// cannot be written is reported on stderr, and the test then finds the loss.
pub fn on_sync(fd: i32) -> Sync {
    let Some(config) = config() else { return Sync::Real };
    let link = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let Ok(path) = fs::read_link(&link) else { return Sync::Real };
    if !path.starts_with(&config.watch) {
        return Sync::Real;
    }
    if config.drop_syncs {
        return Sync::Drop;
    }
    // One sync is recorded at a time, across threads and processes (PostgreSQL syncs from many):
    // a record reads the file as it is when its turn comes, so the shadow only moves forward.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let recorded = lock_shadow(&config.shadow).and_then(|_lock| record(&config.shadow, &link, &path));
    if let Err(e) = recorded {
        eprintln!("inkan-powercut: could not record the sync of {}: {e}", path.display());
    }
    Sync::Real
}

/// The shadow store's lock, held until the returned file is dropped.
fn lock_shadow(shadow: &Path) -> io::Result<fs::File> {
    fs::create_dir_all(shadow)?;
    let file = fs::OpenOptions::new().create(true).append(true).open(shadow.join(LOCK))?;
    file.lock()?;
    Ok(file)
}

/// The lock file in the shadow store; not a shadow.
const LOCK: &str = "lock";

/// Which file this is, for as long as it exists: its inode number and its birth time. The inode
/// number alone is not enough: SQLite deletes its `-wal` and `-shm` files when its last connection
/// closes, and a new file may be given the same number (a `-shm` would come back with an old
/// write-ahead log's content).
fn identity(meta: &fs::Metadata) -> String {
    let born =
        meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("{}-{born}", meta.ino())
}

/// The shadow of a file's content, or of its listing if it is a directory.
fn content_path(shadow: &Path, id: &str) -> PathBuf {
    shadow.join(format!("file-{id}"))
}

fn listing_path(shadow: &Path, id: &str) -> PathBuf {
    shadow.join(format!("dir-{id}"))
}

/// One entry of a directory, as its listing keeps it: name → (identity, is a directory).
type Listing = BTreeMap<String, (String, bool)>;

/// Records what syncing `link` (the `/proc/self/fd` link of `path`) makes durable.
fn record(shadow: &Path, link: &Path, path: &Path) -> io::Result<()> {
    fs::create_dir_all(shadow)?;
    let meta = fs::metadata(link)?;
    if meta.is_dir() {
        let mut listing = Listing::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            listing.insert(entry.file_name().to_string_lossy().into_owned(), (identity(&meta), meta.is_dir()));
        }
        write_atomically(&listing_path(shadow, &identity(&meta)), encode(&listing).as_bytes())
    } else if meta.is_file() {
        write_atomically(&content_path(shadow, &identity(&meta)), &fs::read(link)?)
    } else {
        Ok(())
    }
}

/// Shadows are written whole and renamed into place: a shadow is never half written. They are
/// not synced (the test cuts the power of the process under test, not of the machine).
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    fs::rename(&tmp, path)
}

fn encode(listing: &Listing) -> String {
    listing.iter().map(|(name, (id, dir))| format!("{id}\t{}\t{name}\n", if *dir { "d" } else { "f" })).collect()
}

fn decode(text: &str) -> Listing {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let id = parts.next()?.to_owned();
            let dir = parts.next()? == "d";
            Some((parts.next()?.to_owned(), (id, dir)))
        })
        .collect()
}

/// Makes what is in `watch` now the durable state (as after the power comes back, or before the
/// first start): every file's content and every directory's names, in a fresh shadow store. The
/// watched directory's own identity is kept in `shadow/root`.
pub fn seed(watch: &Path, shadow: &Path) -> io::Result<()> {
    if shadow.exists() {
        fs::remove_dir_all(shadow)?;
    }
    fs::create_dir_all(shadow)?;
    fs::create_dir_all(watch)?;
    seed_dir(watch, shadow)?;
    write_atomically(&shadow.join("root"), identity(&fs::metadata(watch)?).as_bytes())
}

fn seed_dir(dir: &Path, shadow: &Path) -> io::Result<()> {
    let mut listing = Listing::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // A file that goes while the directory is read (SQLite removes its `-wal` and `-shm`
        // files as the last connection closes) is not there.
        let gone = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            seed_dir(&entry.path(), shadow)?;
        } else if meta.is_file() {
            match fs::read(entry.path()) {
                Ok(bytes) => write_atomically(&content_path(shadow, &identity(&meta)), &bytes)?,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        listing.insert(entry.file_name().to_string_lossy().into_owned(), (identity(&meta), meta.is_dir()));
    }
    write_atomically(&listing_path(shadow, &identity(&fs::metadata(dir)?)), encode(&listing).as_bytes())
}

/// What a power cut left, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Files found again, with the content of their last sync.
    pub files: u64,
    /// Files whose name survived but whose content was never synced: found empty.
    pub emptied: u64,
}

/// The power comes back: `watch` is rebuilt from the shadow store alone (every unsynced write
/// dropped, every name not synced into its directory gone), then [`seed`]ed as the new durable
/// state. The process that wrote it must be dead.
pub fn restore(watch: &Path, shadow: &Path) -> io::Result<Restored> {
    let root = fs::read_to_string(shadow.join("root"))?;
    fs::remove_dir_all(watch)?;
    fs::create_dir_all(watch)?;
    let mut restored = Restored::default();
    restore_dir(watch, shadow, root.trim(), &mut restored)?;
    seed(watch, shadow)?;
    Ok(restored)
}

fn restore_dir(dir: &Path, shadow: &Path, id: &str, restored: &mut Restored) -> io::Result<()> {
    // A directory never synced since it was made keeps no names.
    let listing = match fs::read_to_string(listing_path(shadow, id)) {
        Ok(text) => decode(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Listing::new(),
        Err(e) => return Err(e),
    };
    for (name, (id, is_dir)) in listing {
        let path = dir.join(&name);
        if is_dir {
            fs::create_dir_all(&path)?;
            restore_dir(&path, shadow, &id, restored)?;
            continue;
        }
        match fs::read(content_path(shadow, &id)) {
            Ok(bytes) => {
                fs::write(&path, bytes)?;
                restored.files += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::write(&path, [])?;
                restored.emptied += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model without the preload library: `record` is what a sync does.
    fn sync(shadow: &Path, path: &Path) {
        record(shadow, path, path).unwrap();
    }

    #[test]
    fn only_synced_content_and_synced_names_survive() {
        let root = tempfile::tempdir().unwrap();
        let (watch, shadow) = (root.path().join("data"), root.path().join("shadow"));
        fs::create_dir_all(&watch).unwrap();
        fs::write(watch.join("old"), "before").unwrap();
        seed(&watch, &shadow).unwrap();

        // Synced content of a file whose name was synced: kept, later writes dropped.
        fs::write(watch.join("old"), "synced").unwrap();
        sync(&shadow, &watch.join("old"));
        fs::write(watch.join("old"), "unsynced").unwrap();
        // A temporary file synced and renamed, then the directory synced: the rename holds.
        fs::write(watch.join("tmp"), "renamed").unwrap();
        sync(&shadow, &watch.join("tmp"));
        fs::rename(watch.join("tmp"), watch.join("kept")).unwrap();
        // A name synced whose content never was: found empty.
        fs::write(watch.join("empty"), "never synced").unwrap();
        sync(&shadow, &watch);
        // After the directory's sync: a file written and never synced, and one synced whose name
        // never was: both gone.
        fs::write(watch.join("after"), "too late").unwrap();
        fs::write(watch.join("orphan"), "data").unwrap();
        sync(&shadow, &watch.join("orphan"));

        let restored = restore(&watch, &shadow).unwrap();
        assert_eq!(restored, Restored { files: 2, emptied: 1 });
        let mut names: Vec<String> =
            fs::read_dir(&watch).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["empty", "kept", "old"]);
        assert_eq!(fs::read_to_string(watch.join("old")).unwrap(), "synced");
        assert_eq!(fs::read_to_string(watch.join("kept")).unwrap(), "renamed");
        assert_eq!(fs::read_to_string(watch.join("empty")).unwrap(), "");

        // What came back is durable: a second cut with nothing synced changes nothing.
        let again = restore(&watch, &shadow).unwrap();
        assert_eq!(again, Restored { files: 3, emptied: 0 });
        assert_eq!(fs::read_to_string(watch.join("old")).unwrap(), "synced");
    }

    #[test]
    fn subdirectories_keep_their_own_names() {
        let root = tempfile::tempdir().unwrap();
        let (watch, shadow) = (root.path().join("data"), root.path().join("shadow"));
        fs::create_dir_all(watch.join("wal")).unwrap();
        seed(&watch, &shadow).unwrap();
        fs::write(watch.join("wal/0001"), "segment").unwrap();
        sync(&shadow, &watch.join("wal/0001"));
        sync(&shadow, &watch.join("wal"));
        fs::create_dir_all(watch.join("new")).unwrap();
        fs::write(watch.join("new/x"), "x").unwrap();
        sync(&shadow, &watch.join("new/x"));
        restore(&watch, &shadow).unwrap();
        assert_eq!(fs::read_to_string(watch.join("wal/0001")).unwrap(), "segment");
        assert!(!watch.join("new").exists(), "a directory whose parent was never synced");
    }
}
