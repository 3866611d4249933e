// Generated from src-tauri/src/commands.rs by `INKAN_BLESS=1 cargo test -p inkan-wallet commands`.
// Do not edit by hand.

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
