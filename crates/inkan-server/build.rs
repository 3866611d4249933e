//! Rebuilds the server when a migration is added or changed: `sqlx::migrate!` embeds the files of
//! `migrations/` at compile time, and cargo does not see them otherwise (sqlx's documented
//! build script).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
