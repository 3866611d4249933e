// The Backend over the app's Tauri commands (src-tauri/src/lib.rs). Argument names are snake_case,
// as the Rust commands declare them.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { AppEvent } from "../bindings";
import type { Backend } from "./index";

/** The Tauri event that carries every `AppEvent`. */
export const EVENT = "inkan://event";

export const tauriBackend: Backend = {
  snapshot: () => invoke("snapshot"),
  reopen: () => invoke("reopen"),
  enroll: (input) => invoke("enroll", { input }),
  join: (input) => invoke("join", { input }),
  freezeWithRecoveryCode: (input) => invoke("freeze_with_recovery_code", { input }),
  status: () => invoke("status"),
  paymentCode: () => invoke("payment_code"),
  pending: () => invoke("pending"),
  approve: (chargeId) => invoke("approve", { charge_id: chargeId }),
  decline: (chargeId, notMe) => invoke("decline", { charge_id: chargeId, not_me: notMe }),
  activity: () => invoke("activity"),
  exportHistory: () => invoke("export_history"),
  setLimits: (input) => invoke("set_limits", { input }),
  devices: () => invoke("devices"),
  revokeDevice: (deviceId) => invoke("revoke_device", { device_id: deviceId }),
  waitingJoins: () => invoke("waiting_joins"),
  approveJoin: (joinId) => invoke("approve_join", { join_id: joinId }),
  freeze: () => invoke("freeze"),
  unfreeze: () => invoke("unfreeze"),
  unfreezeWithRecoveryCode: (code) => invoke("unfreeze_with_recovery_code", { recovery_code: code }),
  replaceRecoveryCodes: () => invoke("replace_recovery_codes"),
  closeWallet: () => invoke("close_wallet"),
  cards: () => invoke("cards"),
  addCard: (input) => invoke("add_card", { input }),
  verifyCard: (cardId, code) => invoke("verify_card", { card_id: cardId, code }),
  topUp: (cardId, amount) => invoke("top_up", { card_id: cardId, amount }),
  signOut: () => invoke("sign_out"),
  signIn: () => invoke("sign_in"),
  forget: () => invoke("forget"),
  setLocale: (locale) => invoke("set_locale", { locale }),
  onEvent: async (listener) => listen<AppEvent>(EVENT, (e) => listener(e.payload)),
};
