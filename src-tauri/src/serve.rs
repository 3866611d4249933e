//! What each command does: one call into [`inkan_app::App`] each. Their names, and the names and
//! types of what the webview sends them, are `commands.rs`'s; the Tauri command that `lib.rs`
//! makes of each entry there calls the function of the same name here, so a type that differs
//! from the list is a compile error.

use std::sync::atomic::Ordering;

use inkan_app::{
    ActivityItem, AppError, AppSnapshot, CardInput, CardView, ChargeView, ClosedView, DeviceView, EnrollInput,
    Enrolled, ExportView, JoinInput, JoinView, LimitsInput, LimitsView, PaymentCodeView, ProfileView,
    RecoveryFreezeInput, TopUpView, WalletView,
};

use crate::{Context, Reply};

pub async fn snapshot(cx: Context<'_>) -> Reply<AppSnapshot> {
    Ok(cx.app.snapshot().await)
}

pub async fn reopen(cx: Context<'_>) -> Reply<AppSnapshot> {
    Ok(cx.app.reopen().await)
}

pub async fn enroll(cx: Context<'_>, input: EnrollInput) -> Reply<Enrolled> {
    cx.app.enroll(input).await
}

pub async fn join(cx: Context<'_>, input: JoinInput) -> Reply<ProfileView> {
    cx.app.join(input).await
}

pub async fn freeze_with_recovery_code(cx: Context<'_>, input: RecoveryFreezeInput) -> Reply<()> {
    cx.app.freeze_with_recovery_code(input).await
}

pub async fn status(cx: Context<'_>) -> Reply<WalletView> {
    cx.app.status().await
}

pub async fn payment_code(cx: Context<'_>) -> Reply<PaymentCodeView> {
    cx.app.payment_code().await
}

pub async fn pending(cx: Context<'_>) -> Reply<Vec<ChargeView>> {
    cx.app.pending().await
}

pub async fn approve(cx: Context<'_>, charge_id: String) -> Reply<ChargeView> {
    cx.app.approve(&charge_id).await
}

pub async fn decline(cx: Context<'_>, charge_id: String, not_me: bool) -> Reply<ChargeView> {
    cx.app.decline(&charge_id, not_me).await
}

pub async fn activity(cx: Context<'_>) -> Reply<Vec<ActivityItem>> {
    Ok(cx.app.activity())
}

pub async fn export_history(cx: Context<'_>) -> Reply<ExportView> {
    cx.app.export_history(&crate::export_dir(cx.handle)).await
}

pub async fn set_limits(cx: Context<'_>, input: LimitsInput) -> Reply<LimitsView> {
    cx.app.set_limits(input).await
}

pub async fn devices(cx: Context<'_>) -> Reply<Vec<DeviceView>> {
    cx.app.devices().await
}

pub async fn revoke_device(cx: Context<'_>, device_id: String) -> Reply<()> {
    cx.app.revoke_device(&device_id).await
}

pub async fn waiting_joins(cx: Context<'_>) -> Reply<Vec<JoinView>> {
    cx.app.waiting_joins().await
}

pub async fn approve_join(cx: Context<'_>, join_id: String) -> Reply<JoinView> {
    cx.app.approve_join(&join_id).await
}

pub async fn freeze(cx: Context<'_>) -> Reply<()> {
    cx.app.freeze().await
}

pub async fn unfreeze(cx: Context<'_>) -> Reply<()> {
    cx.app.unfreeze().await
}

pub async fn unfreeze_with_recovery_code(cx: Context<'_>, recovery_code: String) -> Reply<()> {
    cx.app.unfreeze_with_recovery_code(&recovery_code).await
}

pub async fn replace_recovery_codes(cx: Context<'_>) -> Reply<Vec<String>> {
    cx.app.replace_recovery_codes().await
}

pub async fn close_wallet(cx: Context<'_>) -> Reply<ClosedView> {
    cx.app.close_wallet().await
}

pub async fn cards(cx: Context<'_>) -> Reply<Vec<CardView>> {
    cx.app.cards().await
}

pub async fn add_card(cx: Context<'_>, input: CardInput) -> Reply<CardView> {
    cx.app.add_card(input).await
}

pub async fn verify_card(cx: Context<'_>, card_id: String, code: String) -> Reply<CardView> {
    cx.app.verify_card(&card_id, &code).await
}

pub async fn top_up(cx: Context<'_>, card_id: String, amount: i64) -> Reply<TopUpView> {
    cx.app.top_up(&card_id, amount).await
}

pub async fn sign_out(cx: Context<'_>) -> Reply<()> {
    cx.app.sign_out().await
}

pub async fn sign_in(cx: Context<'_>) -> Reply<()> {
    cx.app.sign_in().await
}

pub async fn forget(cx: Context<'_>) -> Reply<()> {
    cx.app.forget().await
}

/// The language of the system notifications (the UI's own follows the shopper's setting).
pub async fn set_locale(cx: Context<'_>, locale: String) -> Reply<()> {
    match locale.as_str() {
        "ja" => cx.japanese.store(true, Ordering::Relaxed),
        "en" => cx.japanese.store(false, Ordering::Relaxed),
        other => return Err(AppError::invalid(format!("unknown language {other:?}: use ja or en"))),
    }
    Ok(())
}
