//! Tauri's plugin build: on Android it hands the Kotlin library (`android/`) to the app's Gradle
//! project, on iOS it links the Swift package (`ios/`), and everywhere it sets `cfg(mobile)`.

/// Commands the webview could be granted: none. Only the app's Rust side uses the key.
const COMMANDS: &[&str] = &[];

fn main() {
    tauri_plugin::Builder::new(COMMANDS).android_path("android").ios_path("ios").build();
}
