//! `ui/src/bindings.ts`: the TypeScript declarations of every type the UI exchanges with the app,
//! generated from the Rust types so they are never written twice. This test fails when the file
//! is out of date; `INKAN_BLESS=1 cargo test -p inkan-app bindings` rewrites it.

use std::path::PathBuf;

use ts_rs::{Config, TS};

use crate::view::*;

fn declarations() -> String {
    // serde_json sends i64 as a JSON number; yen amounts stay far below 2^53.
    let cfg = Config::new().with_large_int("number");
    let decls = [
        Amount::decl(&cfg),
        ProfileView::decl(&cfg),
        Defaults::decl(&cfg),
        AppSnapshot::decl(&cfg),
        inkan_api::ErrorCode::decl(&cfg),
        DeviceErrorCode::decl(&cfg),
        AppErrorCode::decl(&cfg),
        AppError::decl(&cfg),
        EnrollInput::decl(&cfg),
        Enrolled::decl(&cfg),
        JoinInput::decl(&cfg),
        RecoveryFreezeInput::decl(&cfg),
        PaymentCodeView::decl(&cfg),
        ChargeView::decl(&cfg),
        LimitsView::decl(&cfg),
        PendingRaiseView::decl(&cfg),
        LimitsInput::decl(&cfg),
        WalletView::decl(&cfg),
        DeviceView::decl(&cfg),
        JoinView::decl(&cfg),
        CardView::decl(&cfg),
        CardInput::decl(&cfg),
        TopUpView::decl(&cfg),
        ClosedView::decl(&cfg),
        Category::decl(&cfg),
        ActivityItem::decl(&cfg),
        ExportView::decl(&cfg),
        AppEvent::decl(&cfg),
        inkan_api::feed::Notice::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types in crates/inkan-app/src/view.rs (and inkan-api's Notice) by\n\
         // `INKAN_BLESS=1 cargo test -p inkan-app bindings`. Do not edit by hand.\n",
    );
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(decl.trim());
        out.push('\n');
    }
    out
}

#[test]
fn bindings_are_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings.ts");
    inkan_testkit::generated_file_is_current(&path, &declarations(), "INKAN_BLESS=1 cargo test -p inkan-app bindings");
}
