// The app's commands: the one list the webview may call. `build.rs` declares each in the app
// manifest (an `allow-<name>` permission, granted by name in `capabilities/default.json`), `lib.rs`
// registers their handlers, and `ui/src/commands.ts` is generated from it; tests check that the
// capability and the TypeScript client name exactly these. Included by both with their own
// `commands!` macro, so it must stay a bare invocation.
commands![
    snapshot,
    reopen,
    enroll,
    join,
    freeze_with_recovery_code,
    status,
    payment_code,
    pending,
    approve,
    decline,
    activity,
    export_history,
    set_limits,
    devices,
    revoke_device,
    waiting_joins,
    approve_join,
    freeze,
    unfreeze,
    unfreeze_with_recovery_code,
    replace_recovery_codes,
    close_wallet,
    cards,
    add_card,
    verify_card,
    top_up,
    sign_out,
    sign_in,
    forget,
    set_locale,
];
