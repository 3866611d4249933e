// Generated from src-tauri/src/commands.rs by `INKAN_BLESS=1 cargo test -p inkan-wallet commands`.
// Do not edit by hand.

import type { ActivityItem, AppSnapshot, CardInput, CardView, ChargeView, ClosedView, DeviceView, EnrollInput, Enrolled, ExportView, JoinInput, JoinView, LimitsInput, LimitsView, PaymentCodeView, ProfileView, RecoveryFreezeInput, TopUpView, WalletView } from "./bindings";

/** The app's commands: the only ones the webview may call (src-tauri/capabilities/default.json). */
export const COMMANDS = [
  "snapshot",
  "reopen",
  "enroll",
  "join",
  "freeze_with_recovery_code",
  "status",
  "payment_code",
  "pending",
  "approve",
  "decline",
  "activity",
  "export_history",
  "set_limits",
  "devices",
  "revoke_device",
  "waiting_joins",
  "approve_join",
  "freeze",
  "unfreeze",
  "unfreeze_with_recovery_code",
  "replace_recovery_codes",
  "close_wallet",
  "cards",
  "add_card",
  "verify_card",
  "top_up",
  "sign_out",
  "sign_in",
  "forget",
  "set_locale",
] as const;

export type Command = (typeof COMMANDS)[number];

/** What each command takes (JSON names, as the Rust arguments) and answers. */
export interface Commands {
  snapshot: { args: null; answer: AppSnapshot };
  reopen: { args: null; answer: AppSnapshot };
  enroll: { args: { input: EnrollInput }; answer: Enrolled };
  join: { args: { input: JoinInput }; answer: ProfileView };
  freeze_with_recovery_code: { args: { input: RecoveryFreezeInput }; answer: void };
  status: { args: null; answer: WalletView };
  payment_code: { args: null; answer: PaymentCodeView };
  pending: { args: null; answer: Array<ChargeView> };
  approve: { args: { charge_id: string }; answer: ChargeView };
  decline: { args: { charge_id: string; not_me: boolean }; answer: ChargeView };
  activity: { args: null; answer: Array<ActivityItem> };
  export_history: { args: null; answer: ExportView };
  set_limits: { args: { input: LimitsInput }; answer: LimitsView };
  devices: { args: null; answer: Array<DeviceView> };
  revoke_device: { args: { device_id: string }; answer: void };
  waiting_joins: { args: null; answer: Array<JoinView> };
  approve_join: { args: { join_id: string }; answer: JoinView };
  freeze: { args: null; answer: void };
  unfreeze: { args: null; answer: void };
  unfreeze_with_recovery_code: { args: { recovery_code: string }; answer: void };
  replace_recovery_codes: { args: null; answer: Array<string> };
  close_wallet: { args: null; answer: ClosedView };
  cards: { args: null; answer: Array<CardView> };
  add_card: { args: { input: CardInput }; answer: CardView };
  verify_card: { args: { card_id: string; code: string }; answer: CardView };
  top_up: { args: { card_id: string; amount: number }; answer: TopUpView };
  sign_out: { args: null; answer: void };
  sign_in: { args: null; answer: void };
  forget: { args: null; answer: void };
  set_locale: { args: { locale: string }; answer: void };
}
