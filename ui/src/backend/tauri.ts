// The Backend over the app's Tauri commands (src-tauri/src/commands.rs). What each command takes
// and answers comes from that list (`../commands`, generated): a command it does not have, an
// argument it does not take or is missing, or an answer read as another type is a type error here,
// not a refusal at run time.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { AppEvent } from "../bindings";
import type { Command, Commands } from "../commands";
import type { Backend } from "./index";

type Args<C extends Command> = Commands[C]["args"];

/** Calls `command` with its arguments (none for a command that takes none). */
const call = <C extends Command>(
  command: C,
  ...args: Args<C> extends null ? [] : [Args<C>]
): Promise<Commands[C]["answer"]> => invoke<Commands[C]["answer"]>(command, args[0] ?? undefined);

/** The Tauri event that carries every `AppEvent`. */
export const EVENT = "inkan://event";

export const tauriBackend: Backend = {
  snapshot: () => call("snapshot"),
  reopen: () => call("reopen"),
  enroll: (input) => call("enroll", { input }),
  join: (input) => call("join", { input }),
  freezeWithRecoveryCode: (input) => call("freeze_with_recovery_code", { input }),
  status: () => call("status"),
  paymentCode: () => call("payment_code"),
  pending: () => call("pending"),
  approve: (chargeId) => call("approve", { charge_id: chargeId }),
  decline: (chargeId, notMe) => call("decline", { charge_id: chargeId, not_me: notMe }),
  activity: () => call("activity"),
  exportHistory: () => call("export_history"),
  setLimits: (input) => call("set_limits", { input }),
  devices: () => call("devices"),
  revokeDevice: (deviceId) => call("revoke_device", { device_id: deviceId }),
  waitingJoins: () => call("waiting_joins"),
  approveJoin: (joinId) => call("approve_join", { join_id: joinId }),
  freeze: () => call("freeze"),
  unfreeze: () => call("unfreeze"),
  unfreezeWithRecoveryCode: (code) => call("unfreeze_with_recovery_code", { recovery_code: code }),
  replaceRecoveryCodes: () => call("replace_recovery_codes"),
  closeWallet: () => call("close_wallet"),
  cards: () => call("cards"),
  addCard: (input) => call("add_card", { input }),
  verifyCard: (cardId, code) => call("verify_card", { card_id: cardId, code }),
  topUp: (cardId, amount) => call("top_up", { card_id: cardId, amount }),
  signOut: () => call("sign_out"),
  signIn: () => call("sign_in"),
  forget: () => call("forget"),
  setLocale: (locale) => call("set_locale", { locale }),
  onEvent: async (listener) => listen<AppEvent>(EVENT, (e) => listener(e.payload)),
};
