// The one door between the screens and the wallet. The app implements it over Tauri commands
// (`tauri.ts`, each a thin call into the Rust crate `inkan-app`); tests and the browser preview
// use `mock.ts`. Every type comes from `../bindings.ts`, generated from the Rust types.

import type {
  ActivityItem,
  AppEvent,
  AppSnapshot,
  CardInput,
  CardView,
  ChargeView,
  DeviceView,
  Enrolled,
  EnrollInput,
  ExportView,
  JoinInput,
  JoinView,
  LimitsInput,
  LimitsView,
  PaymentCodeView,
  ProfileView,
  RecoveryFreezeInput,
  TopUpView,
  ClosedView,
  WalletView,
} from "../bindings";

export type { AppError } from "../bindings";

/** Every method rejects with an `AppError` (`{ code, message }`) when it fails. */
export interface Backend {
  snapshot(): Promise<AppSnapshot>;
  /** Tries again to open the wallet on this device (after a `problem`, e.g. a locked keystore). */
  reopen(): Promise<AppSnapshot>;
  enroll(input: EnrollInput): Promise<Enrolled>;
  join(input: JoinInput): Promise<ProfileView>;
  freezeWithRecoveryCode(input: RecoveryFreezeInput): Promise<void>;
  status(): Promise<WalletView>;
  paymentCode(): Promise<PaymentCodeView>;
  pending(): Promise<ChargeView[]>;
  approve(chargeId: string): Promise<ChargeView>;
  decline(chargeId: string, notMe: boolean): Promise<ChargeView>;
  activity(): Promise<ActivityItem[]>;
  exportHistory(): Promise<ExportView>;
  setLimits(input: LimitsInput): Promise<LimitsView>;
  devices(): Promise<DeviceView[]>;
  revokeDevice(deviceId: string): Promise<void>;
  waitingJoins(): Promise<JoinView[]>;
  approveJoin(joinId: string): Promise<JoinView>;
  freeze(): Promise<void>;
  /**
   * Unfreezes, confirmed with this device's passkey. Only a settled device may: one in the wallet
   * for 72 hours, and added before the wallet's most recent join (`unfreeze_not_allowed` otherwise).
   */
  unfreeze(): Promise<void>;
  /** Unfreezes with a recovery code, which is used up (`unauthorized` for a wrong or used one). */
  unfreezeWithRecoveryCode(code: string): Promise<void>;
  /** Ten new recovery codes, confirmed with the passkey, to show once; every older code stops working. */
  replaceRecoveryCodes(): Promise<string[]>;
  /**
   * Closes the wallet for good, confirmed with the passkey: the balance goes back to the first
   * card that topped the wallet up (`invalid_state` while payments are open or with no such card).
   */
  closeWallet(): Promise<ClosedView>;
  cards(): Promise<CardView[]>;
  addCard(input: CardInput): Promise<CardView>;
  verifyCard(cardId: string, code: string): Promise<CardView>;
  topUp(cardId: string, amount: number): Promise<TopUpView>;
  signOut(): Promise<void>;
  signIn(): Promise<void>;
  forget(): Promise<void>;
  /** The UI's language, for system notifications sent while the window is in the background. */
  setLocale(locale: "ja" | "en"): Promise<void>;
  /** Subscribes to what happens; returns the unsubscribe function. */
  onEvent(listener: (event: AppEvent) => void): Promise<() => void>;
}
