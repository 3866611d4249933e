//! The app's build: Tauri's, with the app manifest that makes each command a permission of its
//! own (`allow-<name>`), so that the capability grants the webview exactly the commands it uses.

macro_rules! commands {
    ($($command:ident ( $($arg:ident : $ty:ty),* ) -> $answer:ty),* $(,)?) => {
        const COMMANDS: &[&str] = &[$(stringify!($command)),*];
    };
}
include!("src/commands.rs");

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        // A build script reports by failing; the error says what is wrong with the app's config.
        panic!("tauri build: {e:#}");
    }
}
