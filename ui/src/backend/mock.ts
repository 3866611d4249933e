// An in-memory wallet behind the `Backend` interface, for the UI tests and the browser preview
// (`npm run dev`, with the demo panel). Development only: never in a production build.
//
// THE RULE OF THIS FILE: fixtures and scripted answers only, no rule of the product. It holds a
// wallet, cards, devices, charges and activity, and changes them the plain way when a call succeeds
// (approve: the charge succeeded and the balance went down; top up: the balance went up). A call
// fails only when a test or the demo panel scripted it (`failNext`), when a fixture is named for it
// (`DECLINED_CARD`), or when there is no fixture to answer from (no wallet, an unknown id). A test
// says what the backend answers and checks what the screen does with it. Nothing here decides what
// is allowed (card numbers, addresses, limits and their cooling-off, card tries, a charge's
// lifetime, who may unfreeze, recovery codes, an operator's hold): those rules live in Rust
// (`inkan-core`, `inkan-server`, `inkan-app`) and are tested there, the real window included. Do
// not add one here.
//
// It is a MOCK: no server, no keys, no passkey, and its payment codes are placeholder pictures that
// no terminal can read.

import type {
  ActivityItem,
  Amount,
  AppError,
  AppEvent,
  AppSnapshot,
  CardInput,
  CardView,
  Category,
  ChargeView,
  ClosedView,
  DeviceView,
  Enrolled,
  EnrollInput,
  ExportView,
  JoinInput,
  JoinView,
  LimitsInput,
  LimitsView,
  Notice,
  PaymentCodeView,
  ProfileView,
  RecoveryFreezeInput,
  TopUpView,
  WalletView,
} from "../bindings";
import type { Backend } from "./index";

/** A `Backend` method whose next calls a test or the demo panel can make fail. */
export type MockMethod = Exclude<keyof Backend, "onEvent">;

/** Answers a test or the demo panel can script in place of the mock's plain one. */
export interface MockAnswers {
  /**
   * The limits the backend reports after `asked` (a raise left waiting, what is left today), given
   * or made from what was asked; `status` reports them from then on. Unscripted, what was asked
   * applies at once.
   */
  setLimits: LimitsView | ((asked: LimitsInput, current: LimitsView, now: number) => LimitsView);
}

/** A fixture card: the sandbox's test card that asks for a challenge code (any code verifies it here). */
export const CHALLENGE_CARD = "4000000000003220";
/** A fixture card: the sandbox's test card that the issuer declines (`card_declined`). */
export const DECLINED_CARD = "4000000000000002";

// Fixture values of the views. Nothing here acts on them: a code is replaced when the screen asks,
// and a charge expires when a test or the demo panel calls `expireCharge`.
const CODE_REFRESH_MS = 30_000;
const CODE_LIFETIME_MS = 60_000;
const CHARGE_SHOWN_EXPIRY_MS = 120_000;
const JOIN_SHOWN_EXPIRY_MS = 10 * 60_000;
const CODES_AT_ENROLMENT = 8;
const CODES_REPLACED = 10;
const LIMITS = { per_charge: 50_000, daily: 100_000, monthly: 300_000 };

export interface MockOptions {
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
  /** Artificial delay of every call, to see busy states in the preview. 0 in tests. */
  latencyMs?: number;
  /** Start with a wallet already set up, with some money and history. */
  seeded?: boolean;
  /** Approve a join request made without a recovery code after this long (preview only). */
  autoApproveJoinMs?: number;
}

/** `¥1,280` and `1,280円`, as the Rust side formats them. */
export function yen(minor: number): Amount {
  const digits = String(Math.abs(minor)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const sign = minor < 0 ? "-" : "";
  return { minor, currency: "JPY", en: `${sign}¥${digits}`, ja: `${sign}${digits}円` };
}

/** A `LimitsView` from plain yen, as given: `remaining` too (working it out is Rust's). */
export function limitsView(
  l: { per_charge: number; daily: number; monthly: number; spent_today: number; spent_this_month: number; remaining: number },
  pending: LimitsView["pending"] = null,
): LimitsView {
  return {
    per_charge: yen(l.per_charge),
    daily: yen(l.daily),
    monthly: yen(l.monthly),
    spent_today: yen(l.spent_today),
    spent_this_month: yen(l.spent_this_month),
    remaining: yen(l.remaining),
    pending,
  };
}

/** What the backend reports of `asked` left waiting `inMs` from `now` (how long is the script's). */
export function pendingRaise(asked: LimitsInput, now: number, inMs: number): NonNullable<LimitsView["pending"]> {
  return {
    per_charge: yen(asked.per_charge),
    daily: yen(asked.daily),
    monthly: yen(asked.monthly),
    effective_at: iso(now + inMs),
    effective_in_ms: inMs,
  };
}

function fail(code: AppError["code"], message: string): AppError {
  return { code, message };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A made-up key fingerprint in the real format (`XXXX-XXXX-XXXX-XXXX`, upper-case hex), the same
 * for the same seed. The mock has no device keys: it derives one from the join.
 */
export function mockFingerprint(seed: string): string {
  let a = 2166136261;
  let b = 0x9e3779b9;
  for (let i = 0; i < seed.length; i++) {
    const c = seed.charCodeAt(i);
    a = Math.imul(a ^ c, 16777619);
    b = Math.imul(b ^ c, 2246822519) ^ (b >>> 13);
  }
  const hex = ((a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")).toUpperCase();
  return hex.match(/.{4}/g)!.join("-");
}

function categoryOf(notice: Notice): Category {
  switch (notice.kind) {
    case "charge_pending":
    case "charge_held":
    case "charge_review_declined":
    case "charge_succeeded":
    case "charge_declined":
    case "charge_expired":
      return "payment";
    case "charge_refunded":
    case "top_up_succeeded":
    case "top_up_failed":
    case "wallet_closed":
    case "payout_failed":
    case "card_added":
      return "money";
    default:
      return "security";
  }
}

function amountOf(notice: Notice): Amount | null {
  return "amount" in notice ? yen(notice.amount) : null;
}

/** A placeholder picture in the shape of a QR code: NOT a QR code, and it says so. */
function mockQrSvg(text: string): string {
  const n = 29;
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const rnd = () => {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    return (h >>> 0) / 4294967296;
  };
  const finder = (x: number, y: number) =>
    `<path d="M${x} ${y}h7v7h-7zM${x + 1} ${y + 1}v5h5v-5zM${x + 2} ${y + 2}h3v3h-3z" fill-rule="evenodd"/>`;
  const inFinder = (x: number, y: number) =>
    (x < 8 && y < 8) || (x >= n - 8 && y < 8) || (x < 8 && y >= n - 8);
  let cells = "";
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const inLabel = x >= 9 && x <= 19 && y >= 12 && y <= 16;
      if (!inFinder(x, y) && !inLabel && rnd() < 0.5) cells += `M${x} ${y}h1v1h-1z`;
    }
  }
  const q = 4;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${-q} ${-q} ${n + 2 * q} ${n + 2 * q}" shape-rendering="crispEdges">` +
    `<title>MOCK payment code: not scannable</title>` +
    `<rect x="${-q}" y="${-q}" width="${n + 2 * q}" height="${n + 2 * q}" fill="#fff"/>` +
    `<g fill="#000">${finder(0, 0)}${finder(n - 7, 0)}${finder(0, n - 7)}<path d="${cells}"/></g>` +
    `<text x="${n / 2}" y="15.4" font-size="3.4" font-family="sans-serif" font-weight="700" text-anchor="middle" fill="#b00020">MOCK</text>` +
    `</svg>`
  );
}

export class MockBackend implements Backend {
  private readonly now: () => number;
  private readonly latencyMs: number;
  private readonly autoApproveJoinMs: number | null;
  private listeners = new Set<(event: AppEvent) => void>();
  private failures = new Map<MockMethod, AppError[]>();
  private answers: { [M in keyof MockAnswers]: MockAnswers[M][] } = { setLimits: [] };

  profile: ProfileView | null = null;
  online = true;
  problem: AppError | null = null;
  locale: "ja" | "en" | null = null;
  signedIn = true;
  private balance = 0;
  private frozen = false;
  /** Why the operator holds the account; `null` when it does not. */
  private held: string | null = null;
  private limits: LimitsView = limitsView({ ...LIMITS, spent_today: 0, spent_this_month: 0, remaining: LIMITS.per_charge });
  private charges = new Map<string, ChargeView>();
  private items: ActivityItem[] = [];
  private devicesList: DeviceView[] = [];
  private joinsList: JoinView[] = [];
  private cardsList: CardView[] = [];
  /** The wallet's latest set of recovery codes, as last shown. */
  private recoveryCodes: string[] = [];
  private codeSets = 0;
  private codeCounter = 0;
  private ids = 0;
  private joinWaiter: ((ok: boolean) => void) | null = null;

  readonly defaults = {
    server: "https://demo.inkan.invalid",
    origin: "https://demo.inkan.invalid",
    device_name: "This browser",
  };

  constructor(options: MockOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.latencyMs = options.latencyMs ?? 0;
    this.autoApproveJoinMs = options.autoApproveJoinMs ?? null;
    if (options.seeded) this.seed();
  }

  // ---- scripts, for tests and the demo panel (not part of Backend) ----

  /** The next call of `method` fails with `error`, changing nothing. Each call scripts one more. */
  failNext(method: MockMethod, error: AppError): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
  }

  /** The next call of `method` answers `answer` (see `MockAnswers`). Each call scripts one more. */
  answerNext<M extends keyof MockAnswers>(method: M, answer: MockAnswers[M]): void {
    this.answers[method].push(answer);
  }

  /** A terminal asks this wallet to pay: the charge waits for an answer. */
  simulateCharge(merchant: string, amount: number, description: string | null = null): ChargeView {
    this.requireWallet();
    const now = this.now();
    const charge: ChargeView = {
      id: this.id("ch"),
      status: "pending_confirmation",
      amount: yen(amount),
      merchant_name: merchant,
      description,
      created_at: iso(now),
      expires_at: iso(now + CHARGE_SHOWN_EXPIRY_MS),
    };
    this.charges.set(charge.id, charge);
    this.notice({ kind: "charge_pending", charge_id: charge.id, amount, currency: "JPY", merchant_name: merchant });
    this.emit({ type: "charge_pending", charge: { ...charge } });
    this.emit({ type: "wallet_changed" });
    return { ...charge };
  }

  /** Nothing answered the charge in time (or it was answered elsewhere, as far as this window sees). */
  expireCharge(id: string): void {
    const c = this.charges.get(id);
    if (!c || c.status !== "pending_confirmation") return;
    c.status = "expired";
    this.notice({ kind: "charge_expired", charge_id: id, amount: c.amount.minor, currency: "JPY", merchant_name: c.merchant_name });
    this.emit({ type: "charge_settled", charge_id: id, status: "expired" });
    this.emit({ type: "wallet_changed" });
  }

  /** The live feed drops or comes back. */
  setOnline(online: boolean, detail: string | null = online ? null : "the server cannot be reached"): void {
    this.online = online;
    this.emit({ type: "connection", online, detail });
  }

  /** The operator puts the account on hold, for `reason`, or lifts the hold (`null`). */
  setHeld(reason: string | null): void {
    if (this.held === reason) return;
    this.held = reason;
    this.notice(reason === null ? { kind: "account_released" } : { kind: "account_held", reason });
    this.emit({ type: "wallet_changed" });
  }

  /** Another device asks to join this wallet. */
  simulateJoinRequest(name: string): JoinView {
    const id = this.id("join");
    const fingerprint = mockFingerprint(`${id}:${name}`);
    const expires_at = iso(this.now() + JOIN_SHOWN_EXPIRY_MS);
    const join: JoinView = { join_id: id, state: "awaiting_approval", device_name: name, device_fingerprint: fingerprint, expires_at };
    this.joinsList.push(join);
    // As the server writes it now: the name and the key's fingerprint, never the join's id.
    this.notice({ kind: "device_join_requested", name, fingerprint });
    return { ...join };
  }

  /** The other device approves (or rejects) the join this device is waiting for. */
  answerJoin(approved: boolean): void {
    const waiter = this.joinWaiter;
    this.joinWaiter = null;
    waiter?.(approved);
  }

  /** The server writes `notice` to the wallet's history (for notices no mock flow makes). */
  simulateNotice(notice: Notice): void {
    this.requireWallet();
    this.notice(notice);
  }

  /** The wallet's latest set of recovery codes, as shown at enrolment or on replacing them. */
  get latestRecoveryCodes(): readonly string[] {
    return [...this.recoveryCodes];
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  get heldReason(): string | null {
    return this.held;
  }

  get currentBalance(): number {
    return this.balance;
  }

  // ---- Backend ----

  async reopen(): Promise<AppSnapshot> {
    await this.called("reopen");
    return this.state();
  }

  async snapshot(): Promise<AppSnapshot> {
    await this.called("snapshot");
    return this.state();
  }

  async enroll(input: EnrollInput): Promise<Enrolled> {
    await this.called("enroll");
    const profile = this.createWallet(input.server, input.display_name, input.device_name);
    // As the app does: the live feed starts with the new wallet and connects after loading the
    // history (two round trips), while the recovery codes are still on screen.
    this.online = false;
    this.emit({ type: "profile_changed" });
    globalThis.setTimeout(() => this.setOnline(true), this.latencyMs * 2 + 1);
    return { profile, recovery_codes: [...this.recoveryCodes] };
  }

  async join(input: JoinInput): Promise<ProfileView> {
    await this.called("join");
    const joinId = this.id("join");
    const progress = (state: string): AppEvent => ({
      type: "join_progress",
      join: {
        join_id: joinId,
        state,
        device_name: input.device_name,
        device_fingerprint: mockFingerprint(`${joinId}:${input.device_name}`),
        expires_at: iso(this.now() + JOIN_SHOWN_EXPIRY_MS),
      },
    });
    // With a recovery code it joins at once; without one it waits for the other device.
    if (!input.recovery_code.trim()) {
      this.emit(progress("awaiting_approval"));
      const approved = await new Promise<boolean>((resolve) => {
        this.joinWaiter = resolve;
        if (this.autoApproveJoinMs !== null) globalThis.setTimeout(() => this.answerJoin(true), this.autoApproveJoinMs);
      });
      if (!approved) throw fail("invalid_state", "the other device did not approve this device");
      this.emit(progress("approved"));
    }
    const profile = this.createWallet(input.server, "Demo Wallet", input.device_name, input.account_id);
    this.balance = 12_000;
    this.emit({ type: "profile_changed" });
    return profile;
  }

  async freezeWithRecoveryCode(input: RecoveryFreezeInput): Promise<void> {
    await this.called("freezeWithRecoveryCode");
    if (this.profile && input.account_id === this.profile.account_id) this.setFrozen(true, "recovery code");
  }

  async status(): Promise<WalletView> {
    await this.called("status");
    const p = this.requireWallet();
    return { display_name: p.display_name, balance: yen(this.balance), frozen: this.frozen, held: this.held, limits: this.limits };
  }

  async paymentCode(): Promise<PaymentCodeView> {
    await this.called("paymentCode");
    const p = this.requireWallet();
    this.codeCounter += 1;
    const text = `MOCK1.${p.device_id}.${this.codeCounter}.${Math.floor(this.now() / 1000).toString(36)}`;
    return { text, svg: mockQrSvg(text), qr_version: 6, refresh_in_ms: CODE_REFRESH_MS, expires_in_ms: CODE_LIFETIME_MS };
  }

  async pending(): Promise<ChargeView[]> {
    await this.called("pending");
    this.requireWallet();
    return [...this.charges.values()].filter((c) => c.status === "pending_confirmation").map((c) => ({ ...c }));
  }

  async approve(chargeId: string): Promise<ChargeView> {
    await this.called("approve");
    const c = this.waitingCharge(chargeId);
    const amount = c.amount.minor;
    this.balance -= amount;
    const l = this.limits;
    this.limits = { ...l, spent_today: yen(l.spent_today.minor + amount), spent_this_month: yen(l.spent_this_month.minor + amount) };
    c.status = "succeeded";
    this.notice({ kind: "charge_succeeded", charge_id: c.id, amount, currency: "JPY", merchant_name: c.merchant_name });
    this.emit({ type: "charge_settled", charge_id: c.id, status: c.status });
    this.emit({ type: "wallet_changed" });
    return { ...c };
  }

  async decline(chargeId: string, notMe: boolean): Promise<ChargeView> {
    await this.called("decline");
    const c = this.waitingCharge(chargeId);
    c.status = "declined";
    const amount = c.amount.minor;
    this.notice({ kind: "charge_declined", charge_id: c.id, amount, currency: "JPY", merchant_name: c.merchant_name, not_me: notMe });
    // "This wasn't me" is a decline and a freeze in one.
    if (notMe) this.setFrozen(true, "this wasn't me");
    this.emit({ type: "charge_settled", charge_id: c.id, status: c.status });
    this.emit({ type: "wallet_changed" });
    return { ...c };
  }

  async activity(): Promise<ActivityItem[]> {
    await this.called("activity");
    return [...this.items];
  }

  async exportHistory(): Promise<ExportView> {
    await this.called("exportHistory");
    this.requireWallet();
    const d = new Date(this.now());
    const p = (n: number) => String(n).padStart(2, "0");
    const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
    return { path: `/home/demo/Documents/Inkan/inkan-history-${stamp}.jsonl`, events: this.items.length };
  }

  async setLimits(input: LimitsInput): Promise<LimitsView> {
    await this.called("setLimits");
    this.requireWallet();
    const answer = this.answers.setLimits.shift();
    const l = this.limits;
    if (typeof answer === "function") this.limits = answer(input, l, this.now());
    else if (answer) this.limits = answer;
    else this.limits = { ...l, per_charge: yen(input.per_charge), daily: yen(input.daily), monthly: yen(input.monthly), pending: null };
    this.emit({ type: "wallet_changed" });
    return this.limits;
  }

  async devices(): Promise<DeviceView[]> {
    await this.called("devices");
    this.requireWallet();
    return this.devicesList.map((d) => ({ ...d }));
  }

  async revokeDevice(deviceId: string): Promise<void> {
    await this.called("revokeDevice");
    this.requireWallet();
    const d = this.devicesList.find((x) => x.id === deviceId);
    if (!d) throw fail("not_found", `the mock has no device ${deviceId}`);
    if (!d.active) return;
    // Its codes stop working, its passkeys are deleted and it is signed out, all at once.
    d.active = false;
    d.passkey_added_at = null;
    this.notice({ kind: "device_revoked", device_id: d.id, name: d.name });
  }

  async waitingJoins(): Promise<JoinView[]> {
    await this.called("waitingJoins");
    this.requireWallet();
    return this.joinsList.filter((j) => j.state === "awaiting_approval").map((j) => ({ ...j }));
  }

  async approveJoin(joinId: string): Promise<JoinView> {
    await this.called("approveJoin");
    this.requireWallet();
    const j = this.joinsList.find((x) => x.join_id === joinId);
    if (!j) throw fail("not_found", `the mock has no join request ${joinId}`);
    j.state = "approved";
    const now = iso(this.now());
    const device: DeviceView = { id: this.id("dev"), name: j.device_name ?? "", active: true, enrolled_at: now, passkey_added_at: now, this_device: false };
    this.devicesList.push(device);
    this.notice({ kind: "device_added", device_id: device.id, name: device.name });
    return { ...j };
  }

  async freeze(): Promise<void> {
    await this.called("freeze");
    const p = this.requireWallet();
    this.setFrozen(true, p.device_id);
  }

  async unfreeze(): Promise<void> {
    await this.called("unfreeze");
    this.requireWallet();
    this.setFrozen(false, "");
  }

  // Any code lifts the freeze here; a refused one is a scripted failure.
  async unfreezeWithRecoveryCode(): Promise<void> {
    await this.called("unfreezeWithRecoveryCode");
    this.requireWallet();
    this.setFrozen(false, "");
  }

  async replaceRecoveryCodes(): Promise<string[]> {
    await this.called("replaceRecoveryCodes");
    this.requireWallet();
    this.recoveryCodes = this.makeRecoveryCodes(CODES_REPLACED);
    this.notice({ kind: "recovery_codes_replaced", count: this.recoveryCodes.length });
    return [...this.recoveryCodes];
  }

  async closeWallet(): Promise<ClosedView> {
    await this.called("closeWallet");
    this.requireWallet();
    // The balance goes back to the fixture's first verified card.
    const card = this.cardsList.find((c) => c.status === "verified") ?? null;
    const paid = this.balance;
    this.balance = 0;
    this.frozen = true;
    const last4 = paid > 0 && card ? card.last4 : null;
    this.notice({ kind: "wallet_closed", reason: "closed", amount: paid, currency: "JPY", card_last4: last4 });
    this.emit({ type: "wallet_changed" });
    return { paid_back: last4 ? yen(paid) : null, card_last4: last4, pending: false };
  }

  async cards(): Promise<CardView[]> {
    await this.called("cards");
    this.requireWallet();
    return this.cardsList.map((c) => ({ ...c }));
  }

  async addCard(input: CardInput): Promise<CardView> {
    await this.called("addCard");
    this.requireWallet();
    if (input.number === DECLINED_CARD) throw fail("card_declined", "the card issuer declined this card");
    const card: CardView = {
      id: this.id("card"),
      // A label for the preview (the real brand comes from the card's provider).
      brand: input.number.startsWith("5") ? "mastercard" : "visa",
      last4: input.number.slice(-4),
      status: input.number === CHALLENGE_CARD ? "challenge_required" : "verified",
    };
    this.cardsList.push(card);
    this.notice({ kind: "card_added", card_id: card.id, brand: card.brand, last4: card.last4, verified: card.status === "verified" });
    return { ...card };
  }

  // Any code verifies the card here; a refused one is a scripted failure.
  async verifyCard(cardId: string): Promise<CardView> {
    await this.called("verifyCard");
    const card = this.card(cardId);
    card.status = "verified";
    return { ...card };
  }

  async topUp(cardId: string, amount: number): Promise<TopUpView> {
    await this.called("topUp");
    const card = this.card(cardId);
    this.balance += amount;
    this.notice({ kind: "top_up_succeeded", topup_id: this.id("tu"), amount, currency: "JPY", card_last4: card.last4 });
    this.emit({ type: "wallet_changed" });
    return { amount: yen(amount), balance: yen(this.balance), pending: false };
  }

  async signOut(): Promise<void> {
    await this.called("signOut");
    this.requireWallet();
    this.signedIn = false;
    this.online = false;
    this.emit({ type: "connection", online: false, detail: "signed out" });
  }

  async signIn(): Promise<void> {
    await this.called("signIn");
    const p = this.requireWallet();
    this.signedIn = true;
    this.online = true;
    this.notice({ kind: "signed_in", device_id: p.device_id });
    this.emit({ type: "connection", online: true, detail: null });
  }

  async forget(): Promise<void> {
    await this.called("forget");
    this.requireWallet();
    this.profile = null;
    this.balance = 0;
    this.frozen = false;
    this.held = null;
    this.items = [];
    this.charges.clear();
    this.devicesList = [];
    this.joinsList = [];
    this.cardsList = [];
    this.recoveryCodes = [];
    this.emit({ type: "profile_changed" });
  }

  async setLocale(locale: "ja" | "en"): Promise<void> {
    await this.called("setLocale");
    this.locale = locale;
  }

  async onEvent(listener: (event: AppEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- inside ----

  /** Every call: the preview's latency, then the failure scripted for it, if any. */
  private async called(method: MockMethod): Promise<void> {
    if (this.latencyMs > 0) await new Promise((resolve) => globalThis.setTimeout(resolve, this.latencyMs));
    const error = this.failures.get(method)?.shift();
    if (error) throw { ...error };
  }

  private state(): AppSnapshot {
    return { profile: this.profile, online: this.online, problem: this.problem, defaults: { ...this.defaults } };
  }

  private emit(event: AppEvent): void {
    for (const l of [...this.listeners]) l(event);
  }

  private id(prefix: string): string {
    this.ids += 1;
    return `${prefix}_${this.ids.toString(36).padStart(6, "0")}`;
  }

  private notice(notice: Notice): void {
    const item: ActivityItem = {
      seq: this.items.length === 0 ? 1 : (this.items[0]?.seq ?? 0) + 1,
      at: iso(this.now()),
      category: categoryOf(notice),
      amount: amountOf(notice),
      notice,
    };
    this.items.unshift(item);
    this.emit({ type: "activity", item });
  }

  /** There is no wallet fixture to answer from. */
  private requireWallet(): ProfileView {
    if (!this.profile) throw fail("no_wallet", "there is no wallet on this device yet: set one up first");
    return this.profile;
  }

  /** A charge of the fixtures that still waits for an answer. */
  private waitingCharge(id: string): ChargeView {
    this.requireWallet();
    const c = this.charges.get(id);
    if (!c || c.status !== "pending_confirmation") throw fail("not_found", `the mock has no charge ${id} waiting`);
    return c;
  }

  private card(id: string): CardView {
    this.requireWallet();
    const card = this.cardsList.find((c) => c.id === id);
    if (!card) throw fail("not_found", `the mock has no card ${id}`);
    return card;
  }

  private createWallet(server: string, name: string, device: string, account?: string): ProfileView {
    const deviceId = this.id("dev");
    const profile: ProfileView = {
      account_id: account ?? `acc_${Math.floor(this.now()).toString(36)}${this.id("").slice(1)}`,
      device_id: deviceId,
      display_name: name,
      server,
      passkey: "software passkey (mock)",
      insecure_passkey: true,
    };
    this.profile = profile;
    this.signedIn = true;
    this.recoveryCodes = this.makeRecoveryCodes(CODES_AT_ENROLMENT);
    this.limits = limitsView({ ...LIMITS, spent_today: 0, spent_this_month: 0, remaining: LIMITS.per_charge });
    const now = iso(this.now());
    this.devicesList = [{ id: deviceId, name: device, active: true, enrolled_at: now, passkey_added_at: now, this_device: true }];
    if (!account) this.notice({ kind: "account_created", display_name: name });
    this.notice({ kind: "device_added", device_id: deviceId, name: device });
    return { ...profile };
  }

  /** Hanako's wallet: this browser and an iPhone, a Visa card, ¥20,000 added and ¥1,280 paid. */
  private seed(): void {
    this.createWallet(this.defaults.server, "Hanako", "This browser");
    const now = iso(this.now());
    this.devicesList.push({ id: this.id("dev"), name: "iPhone", active: true, enrolled_at: now, passkey_added_at: now, this_device: false });
    const card: CardView = { id: this.id("card"), brand: "visa", last4: "4242", status: "verified" };
    this.cardsList.push(card);
    this.notice({ kind: "card_added", card_id: card.id, brand: "visa", last4: "4242", verified: true });
    this.balance = 20_000;
    this.notice({ kind: "top_up_succeeded", topup_id: "tu_seed", amount: 20_000, currency: "JPY", card_last4: "4242" });
    this.balance -= 1_280;
    this.limits = limitsView({ ...LIMITS, spent_today: 1_280, spent_this_month: 1_280, remaining: LIMITS.per_charge });
    this.notice({ kind: "charge_succeeded", charge_id: "ch_seed", amount: 1_280, currency: "JPY", merchant_name: "Lawson Shibuya" });
  }

  /** `count` made-up codes in the real shape, `XXXX-XXXX-XXXX`, new in every set. */
  private makeRecoveryCodes(count: number): string[] {
    this.codeSets += 1;
    const set = String(this.codeSets).padStart(4, "0");
    return Array.from({ length: count }, (_, i) => `MOCK-${set}-${String(i + 1).padStart(4, "0")}`);
  }

  private setFrozen(frozen: boolean, by: string): void {
    if (this.frozen === frozen) return;
    this.frozen = frozen;
    this.notice(frozen ? { kind: "wallet_frozen", by } : { kind: "wallet_unfrozen" });
    this.emit({ type: "wallet_changed" });
  }
}
