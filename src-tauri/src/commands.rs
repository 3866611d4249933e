// The app's commands, as the webview calls them: the one definition of each one's name, its
// arguments (their JSON names and types) and what it answers. `build.rs` declares each in the app
// manifest (an `allow-<name>` permission, granted by name in `capabilities/default.json`);
// `lib.rs` makes the Tauri command of each, which hands its arguments to the function of the same
// name in `serve.rs` (so the compiler holds the two to the same types); and `ui/src/commands.ts`,
// the TypeScript client's types, is generated from it. Tests check that the capability and the
// TypeScript say exactly this. Included by both with their own `commands!` macro, so it must stay
// a bare invocation.
commands![
    snapshot() -> AppSnapshot,
    reopen() -> AppSnapshot,
    enroll(input: EnrollInput) -> Enrolled,
    join(input: JoinInput) -> ProfileView,
    freeze_with_recovery_code(input: RecoveryFreezeInput) -> (),
    status() -> WalletView,
    payment_code() -> PaymentCodeView,
    pending() -> Vec<ChargeView>,
    approve(charge_id: String) -> ChargeView,
    decline(charge_id: String, not_me: bool) -> ChargeView,
    activity() -> Vec<ActivityItem>,
    export_history() -> ExportView,
    set_limits(input: LimitsInput) -> LimitsView,
    devices() -> Vec<DeviceView>,
    revoke_device(device_id: String) -> (),
    waiting_joins() -> Vec<JoinView>,
    approve_join(join_id: String) -> JoinView,
    freeze() -> (),
    unfreeze() -> (),
    unfreeze_with_recovery_code(recovery_code: String) -> (),
    replace_recovery_codes() -> Vec<String>,
    close_wallet() -> ClosedView,
    cards() -> Vec<CardView>,
    add_card(input: CardInput) -> CardView,
    verify_card(card_id: String, code: String) -> CardView,
    top_up(card_id: String, amount: i64) -> TopUpView,
    sign_out() -> (),
    sign_in() -> (),
    forget() -> (),
    set_locale(locale: String) -> (),
];
