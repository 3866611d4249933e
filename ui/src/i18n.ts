// Every word the screens show, in Japanese and English. English is the reference: the Japanese
// dictionary must have exactly the same keys and the same arguments (checked by the compiler).
// Amounts are never formatted here: they arrive formatted from Rust (`Amount.en` / `Amount.ja`).

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Amount, AppError, AppErrorCode, Notice } from "./bindings";

export type Lang = "ja" | "en";
export type LangSetting = "system" | Lang;

const englishPlurals = new Intl.PluralRules("en");

/** The English form for a count, by CLDR's rule ("1 session", "0 sessions", "2 sessions"). Japanese has none. */
function plural(n: number, forms: { one: string; other: string }): string {
  return englishPlurals.select(n) === "one" ? forms.one : forms.other;
}

const en = {
  appName: "Inkan",
  loading: "Loading…",
  working: "Working…",
  retry: "Try again",
  cancel: "Cancel",
  close: "Close",
  back: "Back",
  copy: "Copy",
  copied: "Copied",
  unknownError: "Something went wrong.",

  // Problem with the wallet on this device
  problemTitle: "Your wallet can't be opened",
  problemKeystore:
    "Inkan keeps this device's payment key in the system keyring, and the keyring is locked or not available. Unlock it (for example GNOME Keyring or the login keychain), then try again. If that does not help, restart Inkan.",
  problemOther: "Fix the problem below, then try again. If it persists, restart Inkan.",

  // Onboarding
  welcomeTitle: "A wallet sealed by your passkey",
  welcomeLead:
    "Pay in shops with a QR code. Every payment is confirmed on this device with your passkey, for that amount and that shop.",
  displayName: "Your name",
  displayNameHint: "Shown only to you and your devices.",
  deviceName: "Name of this device",
  server: "Server address",
  advanced: "Advanced",
  origin: "Passkey origin",
  originHint: "Leave as it is unless your operator told you otherwise.",
  createWallet: "Create wallet",
  creatingWallet: "Creating your passkey…",
  orDivider: "or",
  joinExisting: "Add this device to an existing wallet",
  freezeLost: "Lost your phone? Freeze your wallet with a recovery code",
  codesTitle: "Save your recovery codes",
  codesLead:
    "Each code can freeze your wallet from anywhere, unfreeze it, or add a new device without your old one. Keep them somewhere safe and offline.",
  codesOnce: "These codes will never be shown again.",
  copyCodes: "Copy all codes",
  savedCodes: "I have saved my recovery codes",
  continue: "Continue",
  joinTitle: "Add this device to your wallet",
  joinLead:
    "Find the account ID on your other device under Security. Without a recovery code, your other device must approve this one.",
  accountId: "Account ID",
  recoveryCode: "Recovery code (optional)",
  recoveryCodeHint: "With a code this device joins at once and the code is used up.",
  joinSubmit: "Add this device",
  joining: "Joining…",
  joinWaiting: "Waiting for approval on your other device",
  joinWaitingHow:
    "On your other device, open Inkan → Security → Devices waiting to join, and approve with the passkey. If this device is not listed there, check the account ID: Inkan does not say whether an ID belongs to a wallet, and a request for a wrong one simply expires after 10 minutes.",
  joinState: (state: string) => `Status: ${joinStateText.en[state] ?? state}`,
  joinFingerprint: "This device's key",
  joinFingerprintCheck: "Check that your other device shows the same key before you approve.",
  freezeTitle: "Freeze a lost wallet",
  freezeLead:
    "A frozen wallet cannot pay anywhere. Unfreeze it later with a recovery code, or with the passkey of a device that has been in the wallet for at least 72 hours.",
  recoveryCodeRequired: "Recovery code",
  freezeSubmit: "Freeze wallet",
  freezeDone: "The wallet is frozen. No payment can be made until it is unfrozen.",

  // Navigation
  navPay: "Pay",
  navActivity: "Activity",
  navLimits: "Limits",
  navSecurity: "Security",
  navSettings: "Settings",

  // Pay
  payTitle: "Show this code at the register",
  qrLabel: "Payment code. Show it to the cashier to scan.",
  qrMockNote: "Demo code (mock backend) — not a real payment code",
  codeText: "Code as text",
  newCodeIn: (s: number) => `New code in ${s} s`,
  newCodeShown: "A new payment code is shown.",
  gettingCode: "Making a payment code…",
  balance: "Balance",
  remainingToday: "You can still pay today",
  offline: "Offline — codes still work offline",
  frozenTitle: "Your wallet is frozen",
  frozenText: "No payment can be made. Unfreeze it when you are sure it is safe.",
  unfreeze: "Unfreeze with passkey",
  unfreezeRule:
    "A device can unfreeze with its passkey once it has been in this wallet for 72 hours, and only if it was here before the most recently added device. Otherwise, use one of your recovery codes.",
  unfreezeUseCode: "Use a recovery code instead",
  unfreezeCode: "Recovery code",
  unfreezeCodeHint: "The code is used up when it unfreezes the wallet.",
  unfreezeWithCode: "Unfreeze with recovery code",
  heldTitle: "Your account is on hold",
  heldText: "Inkan has put this account on hold. No payment, top-up or new device works until the hold is lifted.",
  heldReason: (reason: string) => `Reason: ${reason}`,
  heldContact: "You cannot lift the hold yourself: contact Inkan support.",
  addMoney: "Add money",
  softPasskey: "Software passkey — demo only",
  signedOutNote: "Signed out. Payment codes still work; sign in again under Security.",

  // Add money
  addMoneyTitle: "Add money",
  payFrom: "From card",
  cardLine: (brand: string, last4: string) => `${brandName(brand)} •••• ${last4}`,
  cardStatus: (status: string) => cardStatusText.en[status] ?? status,
  addAnotherCard: "Add another card",
  newCard: "Add a card",
  cardNumber: "Card number",
  expMonth: "Expiry month (MM)",
  expYear: "Expiry year (YYYY)",
  cvc: "Security code (CVC)",
  cardNeverStored: "Your card number goes to the card network for verification and is never stored by Inkan.",
  addCard: "Add card",
  challengeTitle: "Verify your card",
  challengeLead: "Your card issuer sent a 6-digit code. Enter it to verify the card.",
  challengeCode: "6-digit code",
  verifyCard: "Verify card",
  verifyThisCard: "Verify",
  topUpAmount: "Amount in yen",
  topUp: "Add money",
  topUpDone: (amount: string, balance: string) => `Added ${amount}. Your balance is now ${balance}.`,
  topUpPending: (amount: string) =>
    `Your card company has not confirmed ${amount} yet. It is added as soon as they do (Activity will say so), and your card is charged only once.`,
  done: "Done",
  expiryInvalid: "Enter the expiry month (1–12) and the full year, like 2030.",
  amountInvalid: "Enter a whole number of yen, at least 1.",

  // Confirm
  confirmTitle: "Confirm payment",
  confirmQuestion: (merchant: string) => `Pay ${merchant}?`,
  confirmAt: (time: string) => `Requested at ${time}`,
  approve: "Approve with passkey",
  approving: "Confirming with passkey…",
  decline: "Decline",
  notMe: "This wasn't me",
  notMeHint: "“This wasn't me” declines the payment and freezes your wallet in one step.",
  queued: (n: number) => `${n} more waiting`,

  // Activity
  activityTitle: "Activity",
  filterAll: "All",
  filterPayment: "Payments",
  filterMoney: "Money",
  filterSecurity: "Security",
  filtersLabel: "Show",
  noActivity: "Nothing here yet.",
  exportHistory: "Export history",
  exported: (events: number, path: string) =>
    `Saved ${plural(events, { one: `${events} event`, other: `${events} events` })}, checked link by link and against Inkan's signature, to ${path}`,

  // Limits
  limitsTitle: "Spending limits",
  limitsLead: "Days and months follow Japan time (Asia/Tokyo).",
  perCharge: "Per payment",
  daily: "Per day",
  monthly: "Per month",
  spentOf: (spent: string, limit: string) => `${spent} of ${limit}`,
  remainingNow: "Largest payment possible now",
  editLimits: "Change limits",
  limitYen: (what: string) => `${what} (yen)`,
  lowerNow: "Lowering takes effect at once.",
  raiseNeedsPasskey: "Raising needs your passkey and takes effect after 24 hours.",
  saveLimits: "Save limits",
  requestRaise: "Request raise with passkey",
  limitsLowered: "Your new limits apply now.",
  raiseRequested: "Raise requested. It applies after the 24-hour cooling-off.",
  pendingRaise: "Raise waiting",
  pendingRaiseIn: (d: string) => `Applies in ${d}`,
  pendingRaiseDue: "Applies any moment now",
  pendingRaiseValues: (a: string, b: string, c: string) => `${a} per payment · ${b} a day · ${c} a month`,
  needWholeYen: "Enter whole yen amounts of at least 1.",

  // Security
  securityTitle: "Security",
  accountIdHint: "Another device needs this ID to join your wallet.",
  devicesTitle: "Devices",
  thisDevice: "This device",
  revoked: "Removed",
  enrolledOn: (date: string) => `Added ${date}`,
  passkeyAddedOn: (date: string) => `Its passkey: registered ${date}; it signs in and pays for this device only`,
  noPasskey: "No passkey: removed with the device",
  revoke: "Remove",
  revokeConfirm: (name: string) =>
    `Remove “${name}”? It is signed out at once, its passkey is deleted, and it can no longer pay or see this wallet. You will confirm with your passkey.`,
  revokeYes: "Remove device",
  revokeLastDevice: "This is the wallet's last active device, so it cannot be removed. Add another device first.",
  joinsTitle: "Devices waiting to join",
  noJoins: "No device is waiting.",
  unnamedDevice: "A new device",
  approveJoin: "Approve with passkey",
  joinExpires: (time: string) => `Request expires at ${time}`,
  waitingKey: "Key",
  waitingKeyCheck: "Approve only if the other device shows this same key.",
  freezeTitleShort: "Freeze",
  freezeExplain:
    "Freezing stops every payment at once, from every device. Unfreezing needs a recovery code, or the passkey of a device that has been in the wallet for a while.",
  freeze: "Freeze wallet",
  frozenNow: "Your wallet is frozen.",
  recoveryTitle: "Recovery codes",
  recoveryInfo:
    "Your recovery codes were shown once, when you set up this wallet. Each one can freeze the wallet from anywhere, unfreeze it, or add a new device without your old one. Inkan cannot show them again; if they are lost or running out, make new ones.",
  replaceCodes: "Make new recovery codes",
  replaceCodesExplain:
    "New codes replace all of your current ones: every old code, used or not, stops working at once. You will confirm with your passkey, and the new codes are shown only once.",
  replaceCodesYes: "Make new codes with passkey",
  newCodesTitle: "Your new recovery codes",
  newCodesLead: "Your old codes no longer work. Keep these somewhere safe and offline.",
  savedNewCodes: "I have saved these codes",
  passkeyTitle: "Passkey",
  sessionTitle: "Session",
  signOut: "Sign out",
  signIn: "Sign in with passkey",
  signedOut: "You are signed out on this device.",
  forget: "Remove wallet from this device",
  forgetExplain:
    "This deletes this device's keys and passkey. The wallet itself stays on your other devices; to use it here again you will need another device or a recovery code.",
  forgetUnderstand: "I understand this device will no longer have access to the wallet",
  forgetYes: "Remove from this device",

  // Settings
  settingsTitle: "Settings",
  language: "Language",
  langSystem: "System",
  theme: "Theme",
  themeSystem: "System",
  themeLight: "Light",
  themeDark: "Dark",
  aboutTitle: "This wallet",
  walletName: "Name",
  serverLabel: "Server",

  // Activity sentences
  nChargePending: (m: string, a: string) => `${m} asks you to pay ${a}`,
  nChargeSucceeded: (m: string, a: string) => `Paid ${a} to ${m}`,
  nChargeDeclined: (m: string, a: string) => `Declined ${a} at ${m}`,
  nChargeDeclinedNotMe: (m: string, a: string) => `Reported ${a} at ${m} as not you; wallet frozen`,
  nChargeExpired: (m: string, a: string) => `${a} at ${m} expired unconfirmed`,
  nChargeHeld: (m: string, a: string, why: string) =>
    `Inkan is checking ${a} at ${m} (${why}) before you can confirm it. Not you? Freeze your wallet.`,
  nChargeReviewDeclined: (m: string, a: string) => `Inkan declined ${a} at ${m} after checking it; nothing was paid`,
  holdReason: (reason: string) =>
    ({
      many_charges: "many payments in a few minutes",
      top_up_then_spend: "a top-up spent at once from a new device",
      two_countries: "payments in two countries within the hour",
      new_device_first_charge: "a large first payment from a new device",
    })[reason] ?? "an unusual payment",
  nChargeRefunded: (m: string, a: string) => `${m} refunded ${a}`,
  nTopUpSucceeded: (a: string, last4: string) => `Added ${a} from card •••• ${last4}`,
  nTopUpFailed: (a: string, last4: string, reason: string) => `Adding ${a} from card •••• ${last4} failed: ${reason}`,
  nCardAdded: (brand: string, last4: string) => `Card ${brandName(brand)} •••• ${last4} added`,
  nCardAddedUnverified: (brand: string, last4: string) => `Card ${brandName(brand)} •••• ${last4} added, not verified yet`,
  nCardVerificationFailed: (last4: string, locked: boolean) =>
    locked
      ? `Card •••• ${last4} was refused or its code was wrong: no tries are left, cards are locked. Contact Inkan support.`
      : `Card •••• ${last4} was refused or its code was wrong`,
  nAccountCreated: (name: string) => `Wallet created for ${name}`,
  nSignedIn: "Signed in",
  nDeviceAdded: (name: string) => `Device added: ${name}`,
  nDeviceRevoked: (name: string) => `Device removed: ${name}`,
  nLimitsLowered: "Spending limits lowered (effective at once)",
  nLimitsRaiseRequested: (time: string) => `Spending limit raise requested; applies ${time}`,
  nWalletFrozen: (by: string) => `Wallet frozen (${by})`,
  closeTitle: "Close this wallet",
  closeHint: "Closing is for good: your balance is paid back to your card, and the wallet can never pay again.",
  closeWallet: "Close wallet…",
  closeExplain:
    "Your balance goes back to the first card you topped it up with, and this wallet is closed for good: no payment, no top-up, and it cannot be unfrozen. Confirm with your passkey.",
  closeYes: "Close for good",
  closedPaid: (a: string, last4: string) => `Wallet closed. ${a} was paid back to card •••• ${last4}.`,
  closedPending: (a: string, last4: string) =>
    `Wallet closed. ${a} is on its way back to card •••• ${last4}; Activity says when your card company confirms.`,
  closedEmpty: "Wallet closed. It was empty: nothing to pay back.",
  nWalletClosed: (a: string, last4: string | null, windDown: boolean) =>
    (windDown ? "Inkan is closing: your wallet was closed" : "Wallet closed") +
    (last4 ? `; ${a} paid back to card •••• ${last4}` : "; it was empty"),
  nPayoutFailed: (a: string, last4: string, reason: string) =>
    `Paying ${a} back to card •••• ${last4} failed (${reason}): the money is in your wallet again`,
  nWalletUnfrozen: "Wallet unfrozen",
  nAccountHeld: (reason: string) => `Inkan put your account on hold: ${reason}`,
  nAccountReleased: "The hold on your account was lifted",
  nRecoveryCodeUsed: (n: number) => `A recovery code was used (${n} left)`,
  nRecoveryCodesReplaced: (n: number) =>
    `${plural(n, { one: `${n} new recovery code was made`, other: `${n} new recovery codes were made` })}; the old ones no longer work`,
  nRecoveryCodeRejected: "A wrong recovery code was tried for this wallet",
  nPasskeyRejected: (during: string) => `A passkey was refused (${during})`,
  nPasskeyRejectedHere: (during: string) => `A passkey was refused on this device (${during})`,
  nPasskeyAdded: "A passkey was added",
  nPasskeyAddedHere: "A passkey was added for this device",
  nPasskeyRemoved: (n: number) =>
    plural(n, { one: "A removed device's passkey was deleted", other: `A removed device's ${n} passkeys were deleted` }),
  nSessionsEnded: (n: number, reason: string) => `${plural(n, { one: `${n} session`, other: `${n} sessions` })} ended: ${reason}`,
  nDeviceJoinRequested: (name: string) => `${name} asks to join this wallet`,
  nRegionRefused: (during: string, country: string | null) =>
    `A ${during} from ${country ?? "an unknown country"} was refused: Inkan works only in Japan`,
  nTriesRunningOut: (secret: string) => `Another wrong ${secret}: one more wrong try locks it`,
  nTriesLockedUntil: (secret: string, until: string) => `Too many wrong tries: the ${secret} is locked until ${until}`,
  nTriesLockedSupport: (secret: string) => `Too many wrong tries: the ${secret} is locked; contact Inkan support`,
  errOneTryLeft: "One more wrong try locks it.",
  errLockedUntil: (until: string) => `Locked until ${until}.`,
  errLockedSupport: "It is now locked: contact Inkan support.",
  nDeviceJoinRequestedKey: (name: string, fp: string) => `${name} asks to join this wallet (key ${fp})`,
  byThisDevice: "from this device",
  byRecoveryCode: "with a recovery code",
  byNotMe: "“this wasn't me”",
  byOther: (who: string) => `by ${who}`,
};

/** "visa" → "Visa": card brands arrive in lower case. */
function brandName(brand: string): string {
  const known: Record<string, string> = { visa: "Visa", mastercard: "Mastercard", jcb: "JCB", amex: "American Express" };
  return known[brand.toLowerCase()] ?? brand;
}

export type Dict = {
  [K in keyof typeof en]: (typeof en)[K] extends (...args: infer A) => string ? (...args: A) => string : string;
};

const cardStatusText: Record<Lang, Record<string, string>> = {
  en: { challenge_required: "Needs verification", verified: "Verified", failed: "Verification failed", locked: "Locked" },
  ja: { challenge_required: "要認証", verified: "認証済み", failed: "認証に失敗", locked: "ロック中" },
};

const joinStateText: Record<Lang, Record<string, string>> = {
  en: {
    awaiting_device: "request sent",
    awaiting_approval: "waiting for approval",
    approved: "approved — finishing setup",
    completed: "done",
    rejected: "rejected",
    expired: "expired",
  },
  ja: {
    awaiting_device: "依頼を送信しました",
    awaiting_approval: "承認待ち",
    approved: "承認されました — 設定を完了しています",
    completed: "完了",
    rejected: "拒否されました",
    expired: "期限切れ",
  },
};

/** When a passkey was refused (`passkey_rejected.during`). */
const passkeyDuringText: Record<Lang, Record<string, string>> = {
  en: { sign_in: "signing in", step_up: "confirming", payment: "paying" },
  ja: { sign_in: "サインイン時", step_up: "操作の確認時", payment: "支払い時" },
};

/** What was tried from abroad (`region_refused.during`). */
const regionDuringText: Record<Lang, Record<string, string>> = {
  en: { sign_in: "sign-in", device_join: "request to add a device", card: "card registration", top_up: "top-up", payment: "payment" },
  ja: { sign_in: "サインイン", device_join: "端末追加の要求", card: "カード登録", top_up: "チャージ", payment: "支払い" },
};

/** What was tried too often (`tries_running_out.secret`, `tries_locked.secret`). */
const secretText: Record<Lang, Record<string, string>> = {
  en: { card: "card details", passkey: "passkey", recovery_code: "recovery code" },
  ja: { card: "カード情報", passkey: "パスキー", recovery_code: "リカバリーコード" },
};

/** Why sessions were ended (`sessions_ended.reason`). */
const sessionsEndedText: Record<Lang, Record<string, string>> = {
  en: {
    device_removed: "a device was removed",
    wallet_frozen: "the wallet was frozen",
    account_held: "Inkan put the account on hold",
    passkey_refused: "a passkey was refused too often in it",
  },
  ja: {
    device_removed: "端末が削除されたため",
    wallet_frozen: "ウォレットが凍結されたため",
    account_held: "Inkan がアカウントの利用を停止したため",
    passkey_refused: "パスキーの認証に何度も失敗したため",
  },
};

/** A word from the server this version does not know yet: shown as it is, without underscores. */
function plain(word: string): string {
  return word.replace(/_/g, " ");
}

const ja: Dict = {
  appName: "Inkan",
  loading: "読み込み中…",
  working: "処理中…",
  retry: "再試行",
  cancel: "キャンセル",
  close: "閉じる",
  back: "戻る",
  copy: "コピー",
  copied: "コピーしました",
  unknownError: "問題が発生しました。",

  problemTitle: "ウォレットを開けません",
  problemKeystore:
    "Inkan はこの端末の支払い鍵をシステムのキーリングに保管しています。キーリングがロックされているか、利用できません。キーリング（GNOME Keyring やログインキーチェーンなど）のロックを解除してから、再試行してください。解決しない場合は Inkan を再起動してください。",
  problemOther: "下記の問題を解決してから再試行してください。続く場合は Inkan を再起動してください。",

  welcomeTitle: "パスキーで封印するウォレット",
  welcomeLead:
    "お店で QR コードで支払えます。すべての支払いは、その金額とお店について、この端末のパスキーで確認します。",
  displayName: "お名前",
  displayNameHint: "あなたとあなたの端末にだけ表示されます。",
  deviceName: "この端末の名前",
  server: "サーバーアドレス",
  advanced: "詳細設定",
  origin: "パスキーのオリジン",
  originHint: "運営者から指示がない限り、このままにしてください。",
  createWallet: "ウォレットを作成",
  creatingWallet: "パスキーを作成中…",
  orDivider: "または",
  joinExisting: "この端末を既存のウォレットに追加",
  freezeLost: "スマホをなくしましたか？リカバリーコードでウォレットを凍結",
  codesTitle: "リカバリーコードを保存してください",
  codesLead:
    "各コードで、どこからでもウォレットを凍結したり、凍結を解除したり、以前の端末なしで新しい端末を追加したりできます。オフラインの安全な場所に保管してください。",
  codesOnce: "これらのコードは二度と表示されません。",
  copyCodes: "すべてのコードをコピー",
  savedCodes: "リカバリーコードを保存しました",
  continue: "続ける",
  joinTitle: "この端末をウォレットに追加",
  joinLead:
    "アカウント ID は、もう一方の端末の「セキュリティ」にあります。リカバリーコードがない場合は、もう一方の端末での承認が必要です。",
  accountId: "アカウント ID",
  recoveryCode: "リカバリーコード（任意）",
  recoveryCodeHint: "コードを使うとすぐに追加され、そのコードは使用済みになります。",
  joinSubmit: "この端末を追加",
  joining: "追加中…",
  joinWaiting: "もう一方の端末での承認を待っています",
  joinWaitingHow:
    "もう一方の端末で Inkan →「セキュリティ」→「参加を待っている端末」を開き、パスキーで承認してください。そこにこの端末が表示されない場合は、アカウント ID を確認してください。Inkan は ID がウォレットのものかどうかを知らせません。誤った ID への要求は 10 分で期限切れになります。",
  joinState: (state: string) => `状態：${joinStateText.ja[state] ?? state}`,
  joinFingerprint: "この端末の鍵",
  joinFingerprintCheck: "承認する前に、もう一方の端末に同じ鍵が表示されていることを確認してください。",
  freezeTitle: "なくしたウォレットを凍結",
  freezeLead:
    "凍結したウォレットではどこでも支払いできません。あとで、リカバリーコードか、ウォレットに追加されてから72時間以上たった端末のパスキーで凍結を解除できます。",
  recoveryCodeRequired: "リカバリーコード",
  freezeSubmit: "ウォレットを凍結",
  freezeDone: "ウォレットを凍結しました。凍結を解除するまで支払いはできません。",

  navPay: "支払う",
  navActivity: "履歴",
  navLimits: "上限",
  navSecurity: "セキュリティ",
  navSettings: "設定",

  payTitle: "レジでこのコードを見せてください",
  qrLabel: "支払いコード。店員に読み取ってもらってください。",
  qrMockNote: "デモ用コード（モック）— 本物の支払いコードではありません",
  codeText: "コード（テキスト）",
  newCodeIn: (s: number) => `${s}秒後に新しいコード`,
  newCodeShown: "新しい支払いコードを表示しました。",
  gettingCode: "支払いコードを作成中…",
  balance: "残高",
  remainingToday: "今日あと支払える金額",
  offline: "オフライン — コードはオフラインでも使えます",
  frozenTitle: "ウォレットは凍結されています",
  frozenText: "支払いはできません。安全を確認できたら、凍結を解除してください。",
  unfreeze: "パスキーで凍結を解除",
  unfreezeRule:
    "端末のパスキーで凍結を解除できるのは、その端末がこのウォレットに追加されてから72時間以上たち、かつ最も新しく追加された端末より前からある場合だけです。それ以外の場合は、リカバリーコードをお使いください。",
  unfreezeUseCode: "リカバリーコードを使う",
  unfreezeCode: "リカバリーコード",
  unfreezeCodeHint: "凍結を解除すると、そのコードは使用済みになります。",
  unfreezeWithCode: "リカバリーコードで凍結を解除",
  heldTitle: "アカウントの利用が停止されています",
  heldText: "Inkan がこのアカウントの利用を停止しました。停止が解除されるまで、支払い・チャージ・端末の追加はできません。",
  heldReason: (reason: string) => `理由：${reason}`,
  heldContact: "ご自身で解除することはできません。Inkan サポートにお問い合わせください。",
  addMoney: "チャージ",
  softPasskey: "ソフトウェアパスキー — デモ専用",
  signedOutNote: "サインアウト中です。支払いコードは使えます。「セキュリティ」から再度サインインしてください。",

  addMoneyTitle: "チャージ",
  payFrom: "カード",
  cardLine: (brand: string, last4: string) => `${brandName(brand)} •••• ${last4}`,
  cardStatus: (status: string) => cardStatusText.ja[status] ?? status,
  addAnotherCard: "別のカードを追加",
  newCard: "カードを追加",
  cardNumber: "カード番号",
  expMonth: "有効期限（月 MM）",
  expYear: "有効期限（年 YYYY）",
  cvc: "セキュリティコード（CVC）",
  cardNeverStored: "カード番号は認証のためカードネットワークに送られ、Inkan が保存することはありません。",
  addCard: "カードを追加",
  challengeTitle: "カードの本人認証",
  challengeLead: "カード会社から 6 桁のコードが届きました。入力してカードを認証してください。",
  challengeCode: "6 桁のコード",
  verifyCard: "カードを認証",
  verifyThisCard: "認証する",
  topUpAmount: "金額（円）",
  topUp: "チャージする",
  topUpDone: (amount: string, balance: string) => `${amount}をチャージしました。残高は${balance}です。`,
  topUpPending: (amount: string) =>
    `カード会社から${amount}の確認がまだ届いていません。確認され次第チャージされます（アクティビティでお知らせします）。カードへの請求は一度だけです。`,
  done: "完了",
  expiryInvalid: "有効期限の月（1〜12）と年（2030 のように4桁）を入力してください。",
  amountInvalid: "1以上の整数（円）を入力してください。",

  confirmTitle: "支払いの確認",
  confirmQuestion: (merchant: string) => `${merchant}に支払いますか？`,
  confirmAt: (time: string) => `${time} の依頼`,
  approve: "パスキーで承認",
  approving: "パスキーで確認中…",
  decline: "拒否",
  notMe: "身に覚えがない",
  notMeHint: "「身に覚えがない」を選ぶと、支払いを拒否し、同時にウォレットを凍結します。",
  queued: (n: number) => `ほかに${n}件待っています`,

  activityTitle: "履歴",
  filterAll: "すべて",
  filterPayment: "支払い",
  filterMoney: "お金",
  filterSecurity: "セキュリティ",
  filtersLabel: "表示",
  noActivity: "まだ何もありません。",
  exportHistory: "履歴を書き出す",
  exported: (events: number, path: string) =>
    `${events}件のイベントを1件ずつ、Inkanの署名とともに検証して ${path} に保存しました`,

  limitsTitle: "利用上限",
  limitsLead: "日・月の区切りは日本時間（Asia/Tokyo）です。",
  perCharge: "1回あたり",
  daily: "1日あたり",
  monthly: "1か月あたり",
  spentOf: (spent: string, limit: string) => `${limit}中 ${spent}`,
  remainingNow: "今支払える最大額",
  editLimits: "上限を変更",
  limitYen: (what: string) => `${what}（円）`,
  lowerNow: "引き下げはすぐに反映されます。",
  raiseNeedsPasskey: "引き上げにはパスキーが必要で、24時間後に反映されます。",
  saveLimits: "上限を保存",
  requestRaise: "パスキーで引き上げを申請",
  limitsLowered: "新しい上限がすぐに適用されました。",
  raiseRequested: "引き上げを申請しました。24時間の待機期間の後に適用されます。",
  pendingRaise: "引き上げ待ち",
  pendingRaiseIn: (d: string) => `あと${d}で適用`,
  pendingRaiseDue: "まもなく適用されます",
  pendingRaiseValues: (a: string, b: string, c: string) => `1回 ${a} · 1日 ${b} · 1か月 ${c}`,
  needWholeYen: "1以上の整数（円）を入力してください。",

  securityTitle: "セキュリティ",
  accountIdHint: "別の端末をこのウォレットに追加するときに必要です。",
  devicesTitle: "端末",
  thisDevice: "この端末",
  revoked: "削除済み",
  enrolledOn: (date: string) => `${date} に追加`,
  passkeyAddedOn: (date: string) => `パスキー: ${date} に登録（この端末のサインインと支払いにだけ使えます）`,
  noPasskey: "パスキーなし（端末とともに削除されました）",
  revoke: "削除",
  revokeConfirm: (name: string) =>
    `「${name}」を削除しますか？その端末はすぐにサインアウトされ、パスキーも削除されるため、支払いもウォレットの閲覧もできなくなります。削除はパスキーで確認します。`,
  revokeYes: "端末を削除",
  revokeLastDevice: "このウォレットで使える最後の端末のため、削除できません。先に別の端末を追加してください。",
  joinsTitle: "参加を待っている端末",
  noJoins: "待っている端末はありません。",
  unnamedDevice: "新しい端末",
  approveJoin: "パスキーで承認",
  joinExpires: (time: string) => `${time} に期限切れ`,
  waitingKey: "鍵",
  waitingKeyCheck: "もう一方の端末に同じ鍵が表示されている場合にのみ承認してください。",
  freezeTitleShort: "凍結",
  freezeExplain:
    "凍結すると、すべての端末からの支払いがすぐに止まります。解除には、リカバリーコードか、ウォレットに追加されてからしばらくたった端末のパスキーが必要です。",
  freeze: "ウォレットを凍結",
  frozenNow: "ウォレットは凍結されています。",
  recoveryTitle: "リカバリーコード",
  recoveryInfo:
    "リカバリーコードはウォレットの作成時に一度だけ表示されました。各コードで、どこからでもウォレットを凍結したり、凍結を解除したり、以前の端末なしで新しい端末を追加したりできます。Inkan が再表示することはできません。なくしたときや残りが少なくなったときは、新しいコードを作成してください。",
  replaceCodes: "新しいリカバリーコードを作成",
  replaceCodesExplain:
    "新しいコードは現在のコードをすべて置き換えます。以前のコードは、使用済みかどうかにかかわらず、すぐに使えなくなります。作成はパスキーで確認し、新しいコードは一度だけ表示されます。",
  replaceCodesYes: "パスキーで新しいコードを作成",
  newCodesTitle: "新しいリカバリーコード",
  newCodesLead: "以前のコードは使えなくなりました。これらのコードをオフラインの安全な場所に保管してください。",
  savedNewCodes: "これらのコードを保存しました",
  passkeyTitle: "パスキー",
  sessionTitle: "セッション",
  signOut: "サインアウト",
  signIn: "パスキーでサインイン",
  signedOut: "この端末ではサインアウトしています。",
  forget: "この端末からウォレットを削除",
  forgetExplain:
    "この端末の鍵とパスキーを削除します。ウォレット自体はほかの端末に残ります。この端末で再び使うには、別の端末かリカバリーコードが必要です。",
  forgetUnderstand: "この端末からウォレットにアクセスできなくなることを理解しました",
  forgetYes: "この端末から削除",

  settingsTitle: "設定",
  language: "言語",
  langSystem: "システム",
  theme: "テーマ",
  themeSystem: "システム",
  themeLight: "ライト",
  themeDark: "ダーク",
  aboutTitle: "このウォレット",
  walletName: "名前",
  serverLabel: "サーバー",

  nChargePending: (m: string, a: string) => `${m}から${a}の支払い依頼`,
  nChargeSucceeded: (m: string, a: string) => `${m}に${a}を支払いました`,
  nChargeDeclined: (m: string, a: string) => `${m}の${a}の支払いを拒否しました`,
  nChargeDeclinedNotMe: (m: string, a: string) => `${m}の${a}を「身に覚えがない」と報告し、ウォレットを凍結しました`,
  nChargeExpired: (m: string, a: string) => `${m}の${a}の支払いは確認されないまま期限切れになりました`,
  nChargeHeld: (m: string, a: string, why: string) =>
    `${m}の${a}の支払いをInkanが確認しています（${why}）。確認後に承認をお願いします。身に覚えがなければウォレットを凍結してください`,
  nChargeReviewDeclined: (m: string, a: string) => `Inkanが確認のうえ${m}の${a}の支払いを拒否しました。支払いは行われていません`,
  holdReason: (reason: string) =>
    ({
      many_charges: "短時間に多数の支払い",
      top_up_then_spend: "新しい端末からのチャージ直後の高額利用",
      two_countries: "1時間以内に2か国での支払い",
      new_device_first_charge: "新しい端末からの高額な初回支払い",
    })[reason] ?? "通常と異なる支払い",
  nChargeRefunded: (m: string, a: string) => `${m}から${a}が返金されました`,
  nTopUpSucceeded: (a: string, last4: string) => `カード（末尾${last4}）から${a}をチャージしました`,
  nTopUpFailed: (a: string, last4: string, reason: string) => `カード（末尾${last4}）からの${a}のチャージに失敗しました：${reason}`,
  nCardAdded: (brand: string, last4: string) => `カード ${brandName(brand)}（末尾${last4}）を追加しました`,
  nCardAddedUnverified: (brand: string, last4: string) => `カード ${brandName(brand)}（末尾${last4}）を追加しました（未認証）`,
  nCardVerificationFailed: (last4: string, locked: boolean) =>
    locked
      ? `カード（末尾${last4}）が承認されなかったか、確認コードが違いました。試行回数の上限に達したため、カードはロックされました。Inkan サポートにお問い合わせください。`
      : `カード（末尾${last4}）が承認されなかったか、確認コードが違いました`,
  nAccountCreated: (name: string) => `${name}さんのウォレットを作成しました`,
  nSignedIn: "サインインしました",
  nDeviceAdded: (name: string) => `端末を追加しました：${name}`,
  nDeviceRevoked: (name: string) => `端末を削除しました：${name}`,
  nLimitsLowered: "利用上限を引き下げました（すぐに適用）",
  nLimitsRaiseRequested: (time: string) => `利用上限の引き上げを申請しました（${time} に適用）`,
  nWalletFrozen: (by: string) => `ウォレットを凍結しました（${by}）`,
  closeTitle: "ウォレットの解約",
  closeHint: "解約は取り消せません。残高はカードに返金され、このウォレットでは二度と支払えません。",
  closeWallet: "解約する…",
  closeExplain:
    "残高は最初にチャージに使ったカードに返金され、このウォレットは解約されます。支払い・チャージ・凍結の解除はできなくなります。パスキーで確認してください。",
  closeYes: "解約する",
  closedPaid: (a: string, last4: string) => `ウォレットを解約しました。${a}をカード（末尾${last4}）に返金しました。`,
  closedPending: (a: string, last4: string) =>
    `ウォレットを解約しました。${a}をカード（末尾${last4}）に返金中です。カード会社の確認はアクティビティでお知らせします。`,
  closedEmpty: "ウォレットを解約しました。残高はありませんでした。",
  nWalletClosed: (a: string, last4: string | null, windDown: boolean) =>
    (windDown ? "Inkanのサービス終了により、ウォレットを解約しました" : "ウォレットを解約しました") +
    (last4 ? `。${a}をカード（末尾${last4}）に返金しました` : "。残高はありませんでした"),
  nPayoutFailed: (a: string, last4: string, reason: string) =>
    `カード（末尾${last4}）への${a}の返金に失敗しました（${reason}）。お金はウォレットに戻っています`,
  nWalletUnfrozen: "ウォレットの凍結を解除しました",
  nAccountHeld: (reason: string) => `Inkan がアカウントの利用を停止しました：${reason}`,
  nAccountReleased: "アカウントの利用停止が解除されました",
  nRecoveryCodeUsed: (n: number) => `リカバリーコードが使われました（残り${n}個）`,
  nRecoveryCodesReplaced: (n: number) => `新しいリカバリーコードが${n}個作成され、以前のコードは使えなくなりました`,
  nRecoveryCodeRejected: "このウォレットに誤ったリカバリーコードが入力されました",
  nPasskeyRejected: (during: string) => `パスキーが拒否されました（${during}）`,
  nPasskeyRejectedHere: (during: string) => `この端末でパスキーが拒否されました（${during}）`,
  nPasskeyAdded: "パスキーが追加されました",
  nPasskeyAddedHere: "この端末のパスキーが追加されました",
  nPasskeyRemoved: (n: number) => (n === 1 ? "削除された端末のパスキーを削除しました" : `削除された端末のパスキーを${n}個削除しました`),
  nSessionsEnded: (n: number, reason: string) => `${n}件のセッションを終了しました（${reason}）`,
  nDeviceJoinRequested: (name: string) => `${name}がこのウォレットへの参加を求めています`,
  nRegionRefused: (during: string, country: string | null) =>
    `海外（${country ?? "国不明"}）からの${during}を拒否しました。Inkan は日本国内でのみ利用できます`,
  nTriesRunningOut: (secret: string) => `${secret}の誤りが続いています。あと1回誤るとロックされます`,
  nTriesLockedUntil: (secret: string, until: string) => `誤りが多すぎるため、${secret}は${until}までロックされました`,
  nTriesLockedSupport: (secret: string) => `誤りが多すぎるため、${secret}はロックされました。Inkan サポートにお問い合わせください`,
  errOneTryLeft: "あと1回誤るとロックされます。",
  errLockedUntil: (until: string) => `${until}までロックされています。`,
  errLockedSupport: "ロックされました。Inkan サポートにお問い合わせください。",
  nDeviceJoinRequestedKey: (name: string, fp: string) => `${name}がこのウォレットへの参加を求めています（鍵 ${fp}）`,
  byThisDevice: "この端末から",
  byRecoveryCode: "リカバリーコードで",
  byNotMe: "「身に覚えがない」",
  byOther: (who: string) => `${who}`,
};

export const dictionaries: Record<Lang, Dict> = { en, ja };

/** "System" follows the browser's (the OS's) language: Japanese if it is Japanese, else English. */
export function resolveLang(setting: LangSetting, systemLanguage: string | undefined): Lang {
  if (setting !== "system") return setting;
  return systemLanguage?.toLowerCase().startsWith("ja") ? "ja" : "en";
}

export function amountText(amount: Amount, lang: Lang): string {
  return lang === "ja" ? amount.ja : amount.en;
}

function locale(lang: Lang): string {
  if (lang === "ja") return "ja-JP";
  const sys = typeof navigator !== "undefined" ? navigator.language : "en";
  return sys.toLowerCase().startsWith("en") ? sys : "en";
}

/** A moment from Rust (RFC 3339), in the person's time zone. */
export function formatDateTime(iso: string, lang: Lang): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(lang), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export function formatTime(iso: string, lang: Lang): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(lang), { timeStyle: "short" }).format(d);
}

export function formatDate(iso: string, lang: Lang): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(lang), { dateStyle: "medium" }).format(d);
}

/** A duration such as "23 h 59 min 58 s" / "23時間59分58秒". */
export function formatDuration(ms: number, lang: Lang): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (lang === "ja") return `${h > 0 ? `${h}時間` : ""}${h > 0 || m > 0 ? `${m}分` : ""}${s}秒`;
  return [h > 0 ? `${h} h` : "", h > 0 || m > 0 ? `${m} min` : "", `${s} s`].filter(Boolean).join(" ");
}

/** One Activity line, as a sentence in `lang`. */
export function noticeText(
  notice: Notice,
  amount: Amount | null,
  lang: Lang,
  thisDeviceId: string | null,
): string {
  const t = dictionaries[lang];
  const a = (minor: number) => (amount ? amountText(amount, lang) : String(minor));
  switch (notice.kind) {
    case "charge_pending":
      return t.nChargePending(notice.merchant_name, a(notice.amount));
    case "charge_succeeded":
      return t.nChargeSucceeded(notice.merchant_name, a(notice.amount));
    case "charge_declined":
      return notice.not_me
        ? t.nChargeDeclinedNotMe(notice.merchant_name, a(notice.amount))
        : t.nChargeDeclined(notice.merchant_name, a(notice.amount));
    case "charge_expired":
      return t.nChargeExpired(notice.merchant_name, a(notice.amount));
    case "charge_held":
      return t.nChargeHeld(notice.merchant_name, a(notice.amount), t.holdReason(notice.reason));
    case "charge_review_declined":
      return t.nChargeReviewDeclined(notice.merchant_name, a(notice.amount));
    case "charge_refunded":
      return t.nChargeRefunded(notice.merchant_name, a(notice.amount));
    case "top_up_succeeded":
      return t.nTopUpSucceeded(a(notice.amount), notice.card_last4);
    case "top_up_failed":
      return t.nTopUpFailed(a(notice.amount), notice.card_last4, notice.reason);
    case "card_verification_failed":
      return t.nCardVerificationFailed(notice.last4, notice.locked);
    case "card_added":
      return notice.verified
        ? t.nCardAdded(notice.brand, notice.last4)
        : t.nCardAddedUnverified(notice.brand, notice.last4);
    case "account_created":
      return t.nAccountCreated(notice.display_name);
    case "signed_in":
      return t.nSignedIn;
    case "device_added":
      return t.nDeviceAdded(notice.name);
    case "device_revoked":
      return t.nDeviceRevoked(notice.name);
    case "limits_lowered":
      return t.nLimitsLowered;
    case "limits_raise_requested":
      return t.nLimitsRaiseRequested(formatDateTime(notice.effective_at, lang));
    case "wallet_frozen": {
      // `by` is free text from the server: a device id, "recovery code" or "this wasn't me".
      const by =
        notice.by === thisDeviceId
          ? t.byThisDevice
          : notice.by === "recovery code"
            ? t.byRecoveryCode
            : notice.by === "this wasn't me"
              ? t.byNotMe
              : t.byOther(notice.by);
      return t.nWalletFrozen(by);
    }
    case "wallet_closed":
      return t.nWalletClosed(a(notice.amount), notice.card_last4, notice.reason === "wind_down");
    case "payout_failed":
      return t.nPayoutFailed(a(notice.amount), notice.card_last4, notice.reason);
    case "wallet_unfrozen":
      return t.nWalletUnfrozen;
    case "account_held":
      return t.nAccountHeld(notice.reason);
    case "account_released":
      return t.nAccountReleased;
    case "recovery_code_used":
      return t.nRecoveryCodeUsed(notice.remaining);
    case "recovery_codes_replaced":
      return t.nRecoveryCodesReplaced(notice.count);
    case "recovery_code_rejected":
      return t.nRecoveryCodeRejected;
    case "passkey_rejected": {
      const during = passkeyDuringText[lang][notice.during] ?? plain(notice.during);
      return notice.device_id !== null && notice.device_id === thisDeviceId ? t.nPasskeyRejectedHere(during) : t.nPasskeyRejected(during);
    }
    case "passkey_added":
      return notice.device_id === thisDeviceId ? t.nPasskeyAddedHere : t.nPasskeyAdded;
    case "passkey_removed":
      return t.nPasskeyRemoved(notice.count);
    case "sessions_ended":
      return t.nSessionsEnded(notice.count, sessionsEndedText[lang][notice.reason] ?? plain(notice.reason));
    case "device_join_requested":
      // Notices written before joins were bound to their device have no fingerprint.
      return notice.fingerprint
        ? t.nDeviceJoinRequestedKey(notice.name, notice.fingerprint)
        : t.nDeviceJoinRequested(notice.name);
    case "region_refused":
      return t.nRegionRefused(regionDuringText[lang][notice.during] ?? plain(notice.during), notice.country);
    case "tries_running_out":
      return t.nTriesRunningOut(secretText[lang][notice.secret] ?? plain(notice.secret));
    case "tries_locked": {
      const secret = secretText[lang][notice.secret] ?? plain(notice.secret);
      return notice.until === null ? t.nTriesLockedSupport(secret) : t.nTriesLockedUntil(secret, formatTime(notice.until, lang));
    }
  }
}

// Every error code has a sentence of the app's own in Japanese, and the compiler refuses a code
// missing from either table (`Record<AppErrorCode, …>`; the codes come from Rust, `bindings.ts`).
// The Rust side's messages are in English, and most say it best: they are specific (an amount, a
// limit, the server's reason, the address that could not be reached). So in English, `null` means
// "show the Rust message"; a sentence of the app's own is given only where that message would be
// technical or confusing to a shopper (an internal failure, a request the server could not read, a
// bare rejection from Tauri), or where the app has a clearer one.

/** Japanese for every error code: short, polite, and saying what the shopper can do. */
const jaErrors: Record<AppErrorCode, string> = {
  // The server's refusals.
  payment_code_invalid: "この支払いコードは読み取れませんでした。新しいコードを表示して、もう一度読み取ってもらってください。",
  payment_code_expired: "支払いコードの有効期限が切れました。",
  payment_code_used: "この支払いコードはすでに使われています。",
  limit_exceeded: "利用上限を超えるため支払えません。",
  insufficient_funds: "残高が足りません。チャージしてください。",
  wallet_frozen: "ウォレットが凍結されています。",
  charges_suspended: "現在、支払いは一時停止されています。",
  top_ups_suspended: "現在、チャージとカードの登録は一時停止されています。",
  enrolment_suspended: "現在、ウォレットの新規作成と端末の追加は一時停止されています。",
  account_held: "このアカウントは Inkan により利用が停止されています。Inkan サポートにお問い合わせください。",
  region_blocked: "この地域からは利用できません。",
  unauthorized: "確認できませんでした。コードやアカウント ID を確かめてください。",
  forbidden: "この操作は許可されていません。",
  invalid_request: "サーバーがこの要求を読み取れませんでした。Inkan を最新版に更新してから、もう一度お試しください。",
  payload_too_large: "送信する内容が大きすぎます。短くしてから、もう一度お試しください。",
  idempotency_conflict: "以前の要求と内容が食い違ったため、処理できませんでした。もう一度お試しください。",
  not_found: "見つかりませんでした。",
  invalid_state: "この操作はできません（すでに処理済みか、期限切れです）。",
  passkey_rejected: "パスキーで確認できませんでした。",
  step_up_required: "パスキーでの確認が必要です。",
  ceremony_expired: "確認の有効期限が切れました。もう一度お試しください。",
  card_declined: "カードが承認されませんでした。入力内容を確認してください。",
  card_locked: "試行回数が多すぎるため、このカードはロックされました。",
  attempts_locked: "誤りが多すぎるため、しばらくロックされています。時間をおいてからお試しください。",
  device_revoked: "この端末はウォレットから削除されています。",
  unfreeze_not_allowed:
    "この端末のパスキーでは凍結を解除できません。ウォレットに追加されてから72時間たっていないか、最も新しく追加された端末のためです。リカバリーコードを使うか、もっと前からウォレットにある端末で解除してください。",
  too_many_requests: "短時間に操作が多すぎました。しばらく待ってから、もう一度お試しください。",
  request_timeout: "通信に時間がかかりすぎました。もう一度お試しください。",
  overloaded: "サーバーが混み合っています。少し待ってから、もう一度お試しください。",
  internal: "サーバーで問題が発生しました。少し待ってから、もう一度お試しください。",
  // This device's own.
  unreachable: "サーバーに接続できません。ネットワークを確認してください。",
  protocol: "サーバーからの応答を理解できませんでした。サーバーアドレスを確認するか、Inkan を最新版に更新してください。",
  keystore: "システムのキーリングがロックされているか、利用できません。ロックを解除してから、もう一度お試しください。",
  passkey: "パスキーで確認できませんでした。",
  biometric_cancelled: "指紋・顔認証がキャンセルされました。操作は行われていません。",
  biometric_not_enrolled: "この端末には指紋や顔が登録されていません。端末の設定で登録してから、もう一度お試しください。",
  biometric_unavailable: "この端末では、Inkan のパスキーに必要な生体認証（指紋や顔）を利用できません。",
  passkey_invalidated:
    "この端末で指紋や顔の登録が変更されたため、パスキーが無効になりました。別の端末で承認するか、リカバリーコードを使って、この端末をウォレットに追加し直してください。",
  biometric_lockout: "指紋・顔認証の失敗が多すぎます。PIN、パターンまたはパスコードで端末のロックを解除してから、もう一度お試しください。",
  passkey_missing:
    "この端末からウォレットのパスキーが消えています（アプリの再インストールやデータの消去など）。この端末をウォレットに追加し直してください。",
  key_store_failed: "端末の鍵の保管でエラーが発生しました。もう一度お試しください。続く場合は端末を再起動してください。",
  profile: "この端末のウォレット情報を読み書きできませんでした。空き容量とアクセス権を確認してから、Inkan を再起動してください。",
  device_key_missing:
    "この端末の支払い鍵がシステムのキーリングから消えているため、支払いコードを作れません。この端末をウォレットに追加し直してください。",
  history_changed:
    "サーバー上の利用履歴が、この端末で以前確認した内容、または Inkan の署名と一致しません（書き換えられたか、一部が消えています）。この端末は確認済みの履歴を保持しています。Inkan サポートにお問い合わせください。",
  invalid_input: "入力内容に誤りがあります。確認してから、もう一度お試しください。",
  no_wallet: "この端末にはまだウォレットがありません。",
  export: "利用履歴をファイルに保存できませんでした。保存先の空き容量とアクセス権を確認してください。",
  qr: "支払いコードを表示できませんでした。もう一度お試しください。",
  unknown: "問題が発生しました。もう一度お試しください。続く場合は Inkan を再起動してください。",
};

/** English of the app's own where it says it better than the Rust message; `null`: the message. */
const enErrors: Record<AppErrorCode, string | null> = {
  payment_code_invalid: null,
  payment_code_expired: null,
  payment_code_used: null,
  limit_exceeded: null,
  insufficient_funds: null,
  wallet_frozen: null,
  charges_suspended: null,
  top_ups_suspended: null,
  enrolment_suspended: null,
  account_held: null,
  region_blocked: null,
  unauthorized: null,
  // The server's message speaks of operator keys and scopes.
  forbidden: "This is not allowed.",
  // The server's messages speak of request bodies, paths and Idempotency-Keys.
  invalid_request: "The server could not read this request. Update Inkan, then try again.",
  payload_too_large: "What you sent is too large for the server. Shorten it, then try again.",
  idempotency_conflict: "This did not match an earlier request, so nothing was done. Try again.",
  not_found: null,
  invalid_state: null,
  passkey_rejected: null,
  step_up_required: null,
  ceremony_expired: null,
  card_declined: null,
  card_locked: null,
  attempts_locked: null,
  device_revoked: null,
  unfreeze_not_allowed:
    "This device's passkey cannot unfreeze the wallet: it joined less than 72 hours ago, or it is the most recently added device. Use a recovery code, or unfreeze from a device that has been in the wallet longer.",
  too_many_requests: "Too many requests in a short time. Wait a moment, then try again.",
  request_timeout: "The request took too long to reach the server, so nothing was done. Try again.",
  overloaded: "Inkan's server is busy right now. Wait a moment, then try again.",
  internal: "Something went wrong on Inkan's server. Wait a moment, then try again.",
  unreachable: null,
  protocol: "The server's answer could not be understood. Check the server address, or update Inkan.",
  keystore: null,
  passkey: null,
  biometric_cancelled: null,
  biometric_not_enrolled: null,
  biometric_unavailable: null,
  passkey_invalidated: null,
  biometric_lockout: null,
  passkey_missing: null,
  // The message carries the platform's own detail.
  key_store_failed: "The phone's key store failed. Try again; if it keeps failing, restart the phone.",
  profile: null,
  device_key_missing: null,
  history_changed:
    "The history on the server no longer matches what this device verified before, or Inkan's signature on it: it was rewritten, or part of it is gone. This device keeps what it verified. Contact Inkan support.",
  invalid_input: null,
  no_wallet: null,
  export: null,
  qr: "The payment code could not be drawn. Try again.",
  // Tauri's own rejections name commands and arguments.
  unknown: "Something went wrong in the app. Try again; if it keeps happening, restart Inkan.",
};

/** Every error code, at run time: the keys of a table that has exactly one entry per code. */
export const appErrorCodes: ReadonlySet<string> = new Set(Object.keys(jaErrors));

/** An error's sentence in `lang`: the app's own for its code, or else the backend's message. */
export function errorText(error: AppError, lang: Lang): string {
  const known = lang === "ja" ? jaErrors[error.code] : enErrors[error.code];
  // The server's own message already says when a try is the last one, or locked. (No entry at all
  // is a code newer than this UI that did not come through `toAppError`: its message, too.)
  if (typeof known !== "string") return error.message;
  const t = dictionaries[lang];
  if (error.tries_left === 1) return `${known} ${t.errOneTryLeft}`;
  if (error.locked_until) return `${known} ${t.errLockedUntil(formatTime(error.locked_until, lang))}`;
  if (error.tries_left === 0) return `${known} ${t.errLockedSupport}`;
  return known;
}

export interface I18n {
  lang: Lang;
  t: Dict;
}

export const I18nContext = createContext<I18n>({ lang: "en", t: en });

export function useI18n(): I18n {
  return useContext(I18nContext);
}
