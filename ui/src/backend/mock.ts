// An in-memory wallet behind the `Backend` interface, for the browser preview (`npm run dev`) and
// the UI tests. It is a MOCK: no server, no keys, no passkey, and its payment codes are placeholder
// pictures that no terminal can read. It follows the real rules closely enough for the screens to
// be exercised honestly: limits, balance, pending charges, freeze (and who may lift it), recovery
// codes, an operator's hold, card challenge, cooling-off.

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
  ClosedView,
  WalletView,
} from "../bindings";
import type { Backend } from "./index";

/** The card number that asks for a challenge code (the sandbox's 3-D Secure card). */
export const CHALLENGE_CARD = "4000000000003220";
/** The challenge code that verifies it. */
export const CHALLENGE_CODE = "123456";
/** Card numbers the mock (like the sandbox provider) verifies at once. */
export const VERIFIED_CARDS: readonly string[] = ["4242424242424242", "5555555555554444"];

const DAY_MS = 24 * 60 * 60 * 1000;
const CHARGE_TTL_MS = 120_000;
const CODE_REFRESH_MS = 30_000;
const CODE_LIFETIME_MS = 60_000;
const MAX_CARD_ATTEMPTS = 5;
const HOUR_MS = 60 * 60 * 1000;
/** How long a device must have been in the wallet before its passkey can lift a freeze. */
const SETTLED_AFTER_MS = 72 * HOUR_MS;
/** How many recovery codes a new set has (`crates/inkan-server/src/recovery.rs`). */
const RECOVERY_CODES = 10;

interface Policy {
  per_charge: number;
  daily: number;
  monthly: number;
}

interface Charge {
  id: string;
  status: string;
  amount: number;
  merchant: string;
  description: string | null;
  createdAt: number;
  expiresAt: number;
}

interface Card {
  id: string;
  brand: string;
  last4: string;
  status: string;
  attempts: number;
}

interface Join {
  id: string;
  state: string;
  name: string;
  /** The joining device's key fingerprint, `XXXX-XXXX-XXXX-XXXX`. */
  fingerprint: string;
  expiresAt: number;
}

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

function fail(code: string, message: string): AppError {
  return { code, message };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
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

/** As the server compares recovery codes: letters and digits only, upper case. */
function normalizeCode(code: string): string {
  return code.replace(/[^0-9a-z]/gi, "").toUpperCase();
}

function brandOf(number: string): string {
  return number.startsWith("5") ? "mastercard" : "visa";
}

function checkUrl(text: string, what: string): void {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw fail("invalid_input", `the ${what} "${text}" is not an address`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw fail("invalid_input", `the ${what} must start with https:// (or http:// on this computer)`);
  }
}

function required(value: string, what: string, max: number): string {
  const v = value.trim();
  if (!v) throw fail("invalid_input", `enter ${what}`);
  if ([...v].length > max) throw fail("invalid_input", `${what} is too long (at most ${max} characters)`);
  return v;
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

  profile: ProfileView | null = null;
  online = true;
  problem: AppError | null = null;
  locale: "ja" | "en" | null = null;
  signedIn = true;
  private balance = 0;
  private frozen = false;
  /** Closed for good (its balance paid back): the answer closing it again gets. */
  private closed: ClosedView | null = null;
  /** Why the operator holds the account; `null` when it does not. */
  private held: string | null = null;
  private limits: Policy = { per_charge: 50_000, daily: 100_000, monthly: 300_000 };
  private pendingRaise: { policy: Policy; effectiveAt: number } | null = null;
  private spentToday = 0;
  private spentMonth = 0;
  private charges = new Map<string, Charge>();
  private items: ActivityItem[] = [];
  private devicesList: DeviceView[] = [];
  private joinsList: Join[] = [];
  private cardsList: Card[] = [];
  /** The unused codes of the wallet's latest set (a used one is taken out). */
  private recoveryCodes: string[] = [];
  /** Every code ever made, so that a new set never repeats an old code. */
  private issuedCodes = new Set<string>();
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

  // ---- helpers for tests and the preview (not part of Backend) ----

  /** A terminal asks this wallet to pay: the charge waits for an answer. */
  simulateCharge(merchant: string, amount: number, description: string | null = null): ChargeView {
    if (!this.profile) throw fail("no_wallet", "there is no wallet on this device yet");
    if (this.frozen) throw fail("wallet_frozen", "the wallet is frozen");
    this.refuseWhileHeld();
    const now = this.now();
    const charge: Charge = {
      id: this.id("ch"),
      status: "pending_confirmation",
      amount,
      merchant,
      description,
      createdAt: now,
      expiresAt: now + CHARGE_TTL_MS,
    };
    this.charges.set(charge.id, charge);
    this.notice({ kind: "charge_pending", charge_id: charge.id, amount, currency: "JPY", merchant_name: merchant });
    this.emit({ type: "charge_pending", charge: this.chargeView(charge) });
    this.emit({ type: "wallet_changed" });
    return this.chargeView(charge);
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
    const join: Join = { id, state: "awaiting_approval", name, fingerprint: mockFingerprint(`${id}:${name}`), expiresAt: this.now() + 10 * 60_000 };
    this.joinsList.push(join);
    // As the server writes it now: the name and the key's fingerprint, never the join's id.
    this.notice({ kind: "device_join_requested", name, fingerprint: join.fingerprint });
    return this.joinView(join);
  }

  /**
   * Another device (or the command line) removes `deviceId` from the wallet, by the server's rule:
   * never the wallet's last active device. It may be this device: the real server would then end
   * this device's session too, but the mock keeps it signed in, so that the screens can meet what
   * the server answers when the device they remove is the last active one.
   */
  simulateDeviceRemovedElsewhere(deviceId: string): void {
    this.requireWallet();
    this.removeDevice(deviceId);
  }

  /** The other device approves (or rejects) the join this device is waiting for. */
  answerJoin(approved: boolean): void {
    const waiter = this.joinWaiter;
    this.joinWaiter = null;
    waiter?.(approved);
  }

  /**
   * Makes this device `hours` old in the wallet (a device set up in this session is new, so its
   * passkey cannot lift a freeze until it is 72 hours old).
   */
  simulateDeviceAge(hours: number): void {
    const p = this.requireWallet();
    const me = this.devicesList.find((d) => d.id === p.device_id);
    if (me) me.enrolled_at = me.passkey_added_at = iso(this.now() - hours * HOUR_MS);
  }

  /** The server writes `notice` to the wallet's history (for notices no mock flow makes). */
  simulateNotice(notice: Notice): void {
    this.requireWallet();
    this.notice(notice);
  }

  /** Nothing answered the charge in time. */
  expireCharge(id: string): void {
    const c = this.charges.get(id);
    if (!c || c.status !== "pending_confirmation") return;
    c.status = "expired";
    this.notice({ kind: "charge_expired", charge_id: id, amount: c.amount, currency: "JPY", merchant_name: c.merchant });
    this.emit({ type: "charge_settled", charge_id: id, status: "expired" });
    this.emit({ type: "wallet_changed" });
  }

  /**
   * The recovery codes the mock accepts: the unused ones of the latest set (given at enrolment, the
   * seeded ones, or the last replacement).
   */
  get validRecoveryCodes(): readonly string[] {
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
    return this.snapshot();
  }

  async snapshot(): Promise<AppSnapshot> {
    await this.delay();
    return { profile: this.profile, online: this.online, problem: this.problem, defaults: { ...this.defaults } };
  }

  async enroll(input: EnrollInput): Promise<Enrolled> {
    await this.delay();
    checkUrl(input.server, "server address");
    if (input.origin.trim()) checkUrl(input.origin, "passkey origin");
    const name = required(input.display_name, "your name", 64);
    const device = required(input.device_name, "a name for this device", 64);
    if (this.profile) throw fail("invalid_input", "this device already holds a wallet");
    this.createWallet(input.server.trim(), name, device);
    // As the app does: the live feed starts with the new wallet and connects after loading the
    // history (two round trips), while the recovery codes are still on screen.
    this.online = false;
    this.emit({ type: "profile_changed" });
    globalThis.setTimeout(() => this.setOnline(true), this.latencyMs * 2 + 1);
    return { profile: this.profile as unknown as ProfileView, recovery_codes: [...this.recoveryCodes] };
  }

  async join(input: JoinInput): Promise<ProfileView> {
    await this.delay();
    checkUrl(input.server, "server address");
    if (input.origin.trim()) checkUrl(input.origin, "passkey origin");
    const account = required(input.account_id, "the wallet's account ID", 128);
    const device = required(input.device_name, "a name for this device", 64);
    if (this.profile) throw fail("invalid_input", "this device already holds a wallet");
    if (account !== MOCK_JOIN_ACCOUNT) throw fail("not_found", "no wallet has this account ID");
    const code = input.recovery_code.trim();
    const joinId = this.id("join");
    const fingerprint = mockFingerprint(`${joinId}:${device}`);
    const expires = iso(this.now() + 10 * 60_000);
    if (code) {
      if (!MOCK_JOIN_CODES.includes(code.toUpperCase())) {
        throw fail("unauthorized", "this recovery code is not valid or was already used");
      }
    } else {
      this.emit({
        type: "join_progress",
        join: { join_id: joinId, state: "awaiting_approval", device_name: device, device_fingerprint: fingerprint, expires_at: expires },
      });
      const approved = await new Promise<boolean>((resolve) => {
        this.joinWaiter = resolve;
        if (this.autoApproveJoinMs !== null) {
          globalThis.setTimeout(() => this.answerJoin(true), this.autoApproveJoinMs);
        }
      });
      if (!approved) throw fail("invalid_state", "the other device did not approve this device");
      this.emit({
        type: "join_progress",
        join: { join_id: joinId, state: "approved", device_name: device, device_fingerprint: fingerprint, expires_at: expires },
      });
    }
    this.createWallet(input.server.trim(), "Demo Wallet", device, account);
    this.balance = 12_000;
    this.emit({ type: "profile_changed" });
    return this.profile as unknown as ProfileView;
  }

  async freezeWithRecoveryCode(input: RecoveryFreezeInput): Promise<void> {
    await this.delay();
    checkUrl(input.server, "server address");
    const account = required(input.account_id, "the wallet's account ID", 128);
    const code = required(input.recovery_code, "a recovery code", 64);
    if (this.profile && account === this.profile.account_id) {
      // Any unused code freezes, without being used up; a wrong one is a notice.
      if (this.findCode(code) < 0) throw this.wrongCode();
      this.setFrozen(true, "recovery code");
      return;
    }
    if (account !== MOCK_JOIN_ACCOUNT) throw fail("not_found", "no wallet has this account ID");
    if (!MOCK_JOIN_CODES.includes(code.toUpperCase())) {
      throw fail("unauthorized", "this recovery code is not valid or was already used");
    }
  }

  async status(): Promise<WalletView> {
    await this.delay();
    const p = this.requireWallet();
    return { display_name: p.display_name, balance: yen(this.balance), frozen: this.frozen, held: this.held, limits: this.limitsView() };
  }

  async paymentCode(): Promise<PaymentCodeView> {
    await this.delay();
    this.requireWallet();
    this.codeCounter += 1;
    const text = `MOCK1.${this.profile?.device_id ?? ""}.${this.codeCounter}.${Math.floor(this.now() / 1000).toString(36)}`;
    return {
      text,
      svg: mockQrSvg(text),
      qr_version: 6,
      refresh_in_ms: CODE_REFRESH_MS,
      expires_in_ms: CODE_LIFETIME_MS,
    };
  }

  async pending(): Promise<ChargeView[]> {
    await this.delay();
    this.requireWallet();
    this.expireOld();
    return [...this.charges.values()].filter((c) => c.status === "pending_confirmation").map((c) => this.chargeView(c));
  }

  async approve(chargeId: string): Promise<ChargeView> {
    await this.delay();
    this.requireWallet();
    const c = this.pendingCharge(chargeId);
    if (this.frozen) throw fail("wallet_frozen", "the wallet is frozen: unfreeze it before paying");
    this.refuseWhileHeld();
    this.applyPendingRaise();
    if (c.amount > this.limits.per_charge) {
      throw fail("limit_exceeded", `this payment is above your per-payment limit of ${yen(this.limits.per_charge).en}`);
    }
    if (this.spentToday + c.amount > this.limits.daily) {
      throw fail("limit_exceeded", `this payment would go over your daily limit of ${yen(this.limits.daily).en}`);
    }
    if (this.spentMonth + c.amount > this.limits.monthly) {
      throw fail("limit_exceeded", `this payment would go over your monthly limit of ${yen(this.limits.monthly).en}`);
    }
    if (c.amount > this.balance) {
      throw fail("insufficient_funds", `your balance of ${yen(this.balance).en} is not enough: add money first`);
    }
    this.balance -= c.amount;
    this.spentToday += c.amount;
    this.spentMonth += c.amount;
    c.status = "succeeded";
    this.notice({ kind: "charge_succeeded", charge_id: c.id, amount: c.amount, currency: "JPY", merchant_name: c.merchant });
    this.emit({ type: "charge_settled", charge_id: c.id, status: c.status });
    this.emit({ type: "wallet_changed" });
    return this.chargeView(c);
  }

  async decline(chargeId: string, notMe: boolean): Promise<ChargeView> {
    await this.delay();
    this.requireWallet();
    const c = this.pendingCharge(chargeId);
    c.status = "declined";
    this.notice({
      kind: "charge_declined",
      charge_id: c.id,
      amount: c.amount,
      currency: "JPY",
      merchant_name: c.merchant,
      not_me: notMe,
    });
    if (notMe) this.setFrozen(true, "this wasn't me");
    this.emit({ type: "charge_settled", charge_id: c.id, status: c.status });
    this.emit({ type: "wallet_changed" });
    return this.chargeView(c);
  }

  async activity(): Promise<ActivityItem[]> {
    await this.delay();
    return [...this.items];
  }

  async exportHistory(): Promise<ExportView> {
    await this.delay();
    this.requireWallet();
    const d = new Date(this.now());
    const p = (n: number) => String(n).padStart(2, "0");
    const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
    return { path: `/home/demo/Documents/Inkan/inkan-history-${stamp}.jsonl`, events: this.items.length };
  }

  async setLimits(input: LimitsInput): Promise<LimitsView> {
    await this.delay();
    this.requireWallet();
    for (const [k, v] of Object.entries(input)) {
      if (!Number.isSafeInteger(v) || v < 1) throw fail("invalid_input", `the ${k.replace("_", "-")} limit must be a whole number of yen, at least ¥1`);
    }
    if (input.per_charge > input.daily) throw fail("invalid_input", "the per-payment limit cannot be above the daily limit");
    if (input.daily > input.monthly) throw fail("invalid_input", "the daily limit cannot be above the monthly limit");
    this.applyPendingRaise();
    const cur = this.limits;
    const lowered: Policy = {
      per_charge: Math.min(cur.per_charge, input.per_charge),
      daily: Math.min(cur.daily, input.daily),
      monthly: Math.min(cur.monthly, input.monthly),
    };
    const raises = input.per_charge > cur.per_charge || input.daily > cur.daily || input.monthly > cur.monthly;
    const lowers = lowered.per_charge < cur.per_charge || lowered.daily < cur.daily || lowered.monthly < cur.monthly;
    if (lowers) {
      this.limits = lowered;
      this.notice({ kind: "limits_lowered", ...lowered });
    }
    if (raises) {
      const effectiveAt = this.now() + DAY_MS;
      this.pendingRaise = { policy: { ...input }, effectiveAt };
      this.notice({ kind: "limits_raise_requested", ...input, effective_at: iso(effectiveAt) });
    } else if (lowers) {
      // A lower setting replaces a raise that was still waiting.
      this.pendingRaise = null;
    }
    this.emit({ type: "wallet_changed" });
    return this.limitsView();
  }

  async devices(): Promise<DeviceView[]> {
    await this.delay();
    this.requireWallet();
    return this.devicesList.map((d) => ({ ...d }));
  }

  async revokeDevice(deviceId: string): Promise<void> {
    await this.delay();
    const p = this.requireWallet();
    if (deviceId === p.device_id) {
      throw fail("invalid_input", "this is the device you are using: revoke it from another device, or remove the wallet from this one");
    }
    // In the app the passkey confirms this first (a step-up); the mock has no passkey.
    this.removeDevice(deviceId);
  }

  async waitingJoins(): Promise<JoinView[]> {
    await this.delay();
    this.requireWallet();
    return this.joinsList.filter((j) => j.state === "awaiting_approval").map((j) => this.joinView(j));
  }

  async approveJoin(joinId: string): Promise<JoinView> {
    await this.delay();
    this.requireWallet();
    const j = this.joinsList.find((x) => x.id === joinId);
    if (!j) throw fail("not_found", "no such join request");
    if (j.state !== "awaiting_approval") throw fail("invalid_state", "this device is no longer waiting to join");
    this.refuseWhileHeld();
    j.state = "approved";
    const now = iso(this.now());
    const device: DeviceView = { id: this.id("dev"), name: j.name, active: true, enrolled_at: now, passkey_added_at: now, this_device: false };
    this.devicesList.push(device);
    this.notice({ kind: "device_added", device_id: device.id, name: device.name });
    return this.joinView(j);
  }

  async freeze(): Promise<void> {
    await this.delay();
    const p = this.requireWallet();
    this.setFrozen(true, p.device_id);
  }

  async unfreeze(): Promise<void> {
    await this.delay();
    this.requireWallet();
    if (this.closed) throw fail("invalid_state", "the wallet is already closed");
    // The server's rule (`inkan_core::freeze::may_lift_freeze`), then the passkey (none here).
    const refusal = this.unfreezeRefusal();
    if (refusal) throw fail("unfreeze_not_allowed", refusal);
    this.setFrozen(false, "");
  }

  async unfreezeWithRecoveryCode(code: string): Promise<void> {
    await this.delay();
    const given = required(code, "a recovery code", 64);
    this.requireWallet();
    if (this.closed) throw fail("invalid_state", "the wallet is already closed");
    const at = this.findCode(given);
    if (at < 0) throw this.wrongCode();
    // Used up, whichever device gives it.
    this.recoveryCodes.splice(at, 1);
    this.notice({ kind: "recovery_code_used", remaining: this.recoveryCodes.length });
    this.setFrozen(false, "");
  }

  async replaceRecoveryCodes(): Promise<string[]> {
    await this.delay();
    this.requireWallet();
    // In the app the passkey confirms this first (a step-up); the mock has no passkey.
    this.recoveryCodes = this.makeRecoveryCodes(RECOVERY_CODES);
    this.notice({ kind: "recovery_codes_replaced", count: this.recoveryCodes.length });
    return [...this.recoveryCodes];
  }

  async closeWallet(): Promise<ClosedView> {
    await this.delay();
    this.requireWallet();
    if (this.closed) return this.closed;
    this.refuseWhileHeld();
    const open = [...this.charges.values()].filter((c) => c.status === "pending_confirmation").length;
    if (open > 0) throw fail("invalid_state", `${open} payment(s) are still open: confirm or decline them first`);
    const card = [...this.cardsList].reverse().find((c) => c.status === "verified");
    if (this.balance > 0 && !card) throw fail("invalid_state", "add and verify a card to pay the balance back to");
    // In the app the passkey confirms this first (a step-up); the mock has no passkey.
    const paid = this.balance;
    this.balance = 0;
    this.frozen = true;
    this.closed = paid > 0 && card ? { paid_back: yen(paid), card_last4: card.last4, pending: false } : { paid_back: null, card_last4: null, pending: false };
    this.notice({ kind: "wallet_closed", reason: "closed", amount: paid, currency: "JPY", card_last4: this.closed.card_last4 });
    this.emit({ type: "wallet_changed" });
    return this.closed;
  }

  async cards(): Promise<CardView[]> {
    await this.delay();
    this.requireWallet();
    return this.cardsList.map((c) => this.cardView(c));
  }

  async addCard(input: CardInput): Promise<CardView> {
    await this.delay();
    this.requireWallet();
    this.refuseWhileHeld();
    const number = input.number.replace(/[\s-]/g, "");
    if (!/^\d{12,19}$/.test(number) || !luhn(number)) throw fail("card_declined", "this card number is not valid");
    if (!Number.isInteger(input.exp_month) || input.exp_month < 1 || input.exp_month > 12) {
      throw fail("invalid_input", "the expiry month must be 1 to 12");
    }
    const now = new Date(this.now());
    const year = now.getUTCFullYear();
    if (!Number.isInteger(input.exp_year) || input.exp_year > year + 20) {
      throw fail("invalid_input", "the expiry year must be written in full, like 2030");
    }
    if (input.exp_year < year || (input.exp_year === year && input.exp_month < now.getUTCMonth() + 1)) {
      throw fail("card_expired", "this card has expired");
    }
    if (!/^\d{3}$/.test(input.cvc)) throw fail("card_declined", "the security code is 3 digits");
    // The sandbox funding provider's test cards (crates/inkan-server/src/funding.rs).
    if (number !== "4242424242424242" && number !== "5555555555554444" && number !== CHALLENGE_CARD) {
      throw fail("card_declined", "the card issuer declined this card");
    }
    const card: Card = {
      id: this.id("card"),
      brand: brandOf(number),
      last4: number.slice(-4),
      status: number === CHALLENGE_CARD ? "challenge_required" : "verified",
      attempts: 0,
    };
    this.cardsList.push(card);
    this.notice({ kind: "card_added", card_id: card.id, brand: card.brand, last4: card.last4, verified: card.status === "verified" });
    return this.cardView(card);
  }

  async verifyCard(cardId: string, code: string): Promise<CardView> {
    await this.delay();
    this.requireWallet();
    this.refuseWhileHeld();
    const card = this.cardsList.find((c) => c.id === cardId);
    if (!card) throw fail("not_found", "no such card");
    if (card.status === "locked") throw fail("card_locked", "too many wrong codes: this card is locked");
    if (card.status === "verified") return this.cardView(card);
    if (code.trim() !== CHALLENGE_CODE) {
      card.attempts += 1;
      if (card.attempts >= MAX_CARD_ATTEMPTS) {
        card.status = "locked";
        throw fail("card_locked", "too many wrong codes: this card is locked");
      }
      throw fail("card_declined", `the code is not right (${MAX_CARD_ATTEMPTS - card.attempts} attempts left)`);
    }
    card.status = "verified";
    return this.cardView(card);
  }

  async topUp(cardId: string, amount: number): Promise<TopUpView> {
    await this.delay();
    this.requireWallet();
    if (!Number.isSafeInteger(amount) || amount <= 0) throw fail("invalid_input", "enter an amount of at least ¥1");
    if (amount > 500_000) throw fail("invalid_input", "at most ¥500,000 at a time");
    const card = this.cardsList.find((c) => c.id === cardId);
    if (!card) throw fail("not_found", "no such card");
    if (card.status !== "verified") throw fail("invalid_state", "verify this card before adding money from it");
    if (this.closed) throw fail("invalid_state", "this wallet is closed");
    if (this.frozen) throw fail("wallet_frozen", "the wallet is frozen");
    this.refuseWhileHeld();
    this.balance += amount;
    this.notice({ kind: "top_up_succeeded", topup_id: this.id("tu"), amount, currency: "JPY", card_last4: card.last4 });
    this.emit({ type: "wallet_changed" });
    return { amount: yen(amount), balance: yen(this.balance), pending: false };
  }

  async signOut(): Promise<void> {
    await this.delay();
    this.requireWallet();
    this.signedIn = false;
    this.online = false;
    this.emit({ type: "connection", online: false, detail: "signed out" });
  }

  async signIn(): Promise<void> {
    await this.delay();
    const p = this.requireWallet();
    this.signedIn = true;
    this.online = true;
    this.notice({ kind: "signed_in", device_id: p.device_id });
    this.emit({ type: "connection", online: true, detail: null });
  }

  async forget(): Promise<void> {
    await this.delay();
    this.requireWallet();
    this.profile = null;
    this.balance = 0;
    this.frozen = false;
    this.closed = null;
    this.held = null;
    this.items = [];
    this.charges.clear();
    this.devicesList = [];
    this.joinsList = [];
    this.cardsList = [];
    this.pendingRaise = null;
    this.spentToday = 0;
    this.spentMonth = 0;
    this.emit({ type: "profile_changed" });
  }

  async setLocale(locale: "ja" | "en"): Promise<void> {
    this.locale = locale;
  }

  async onEvent(listener: (event: AppEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- inside ----

  private delay(): Promise<void> {
    if (this.latencyMs <= 0) return Promise.resolve();
    return new Promise((resolve) => globalThis.setTimeout(resolve, this.latencyMs));
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

  /** The server's rule: an active device of this wallet, never its last active one. */
  private removeDevice(deviceId: string): void {
    const d = this.devicesList.find((x) => x.id === deviceId);
    if (!d) throw fail("not_found", "no such device in this wallet");
    if (!d.active) return;
    if (this.devicesList.filter((x) => x.active).length <= 1) {
      throw fail("invalid_state", "this is the wallet's last device: add another before removing it");
    }
    // Its codes stop working, its passkeys are deleted and it is signed out, all at once.
    d.active = false;
    d.passkey_added_at = null;
    this.notice({ kind: "device_revoked", device_id: d.id, name: d.name });
  }

  private requireWallet(): ProfileView {
    if (!this.profile) throw fail("no_wallet", "there is no wallet on this device yet: set one up first");
    return this.profile;
  }

  private createWallet(server: string, name: string, device: string, account?: string): void {
    const accountId = account ?? `acc_${Math.floor(this.now()).toString(36)}${this.id("").slice(1)}`;
    const deviceId = this.id("dev");
    this.profile = {
      account_id: accountId,
      device_id: deviceId,
      display_name: name,
      server,
      passkey: "software passkey (mock)",
      insecure_passkey: true,
    };
    this.signedIn = true;
    this.recoveryCodes = this.makeRecoveryCodes(8);
    const now = iso(this.now());
    this.devicesList = [{ id: deviceId, name: device, active: true, enrolled_at: now, passkey_added_at: now, this_device: true }];
    if (!account) this.notice({ kind: "account_created", display_name: name });
    this.notice({ kind: "device_added", device_id: deviceId, name: device });
  }

  private seed(): void {
    this.createWallet(this.defaults.server, "Hanako", "This browser");
    const now = this.now();
    // Joined after this browser made the wallet: this browser is new (its passkey cannot unfreeze
    // until `simulateDeviceAge`), and once it is old, it was there before the latest join.
    this.devicesList.push({ id: this.id("dev"), name: "iPhone", active: true, enrolled_at: iso(now), passkey_added_at: iso(now), this_device: false });
    this.cardsList.push({ id: this.id("card"), brand: "visa", last4: "4242", status: "verified", attempts: 0 });
    this.notice({ kind: "card_added", card_id: "card_seed", brand: "visa", last4: "4242", verified: true });
    this.balance = 20_000;
    this.notice({ kind: "top_up_succeeded", topup_id: "tu_seed", amount: 20_000, currency: "JPY", card_last4: "4242" });
    this.balance -= 1_280;
    this.spentToday = 1_280;
    this.spentMonth = 1_280;
    this.notice({ kind: "charge_succeeded", charge_id: "ch_seed", amount: 1_280, currency: "JPY", merchant_name: "Lawson Shibuya" });
  }

  /** `count` made-up codes `XXXX-XXXX-XXXX`, none of them one of the wallet's earlier codes. */
  private makeRecoveryCodes(count: number): string[] {
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const codes: string[] = [];
    for (let i = 0; codes.length < count; i++) {
      let s = "";
      let x = (Math.imul(this.now() % 100000, 2654435761) ^ (i * 40503) ^ Math.imul(this.codeSets, 0x9e3779b1)) >>> 0;
      for (let k = 0; k < 12; k++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        s += alphabet[(x >>> 16) % alphabet.length];
        if (k === 3 || k === 7) s += "-";
      }
      if (!codes.includes(s) && !this.issuedCodes.has(s)) codes.push(s);
    }
    this.codeSets += 1;
    for (const c of codes) this.issuedCodes.add(c);
    return codes;
  }

  /** Where `code` is among the unused recovery codes, or -1. */
  private findCode(code: string): number {
    const given = normalizeCode(code);
    return this.recoveryCodes.findIndex((c) => normalizeCode(c) === given);
  }

  /** A wrong recovery code: every device hears of it, and the caller is refused. */
  private wrongCode(): AppError {
    this.notice({ kind: "recovery_code_rejected" });
    return fail("unauthorized", "that recovery code is not valid for this wallet");
  }

  /**
   * Why this device's passkey may not lift the freeze, or `null` if it may: it must have been in
   * the wallet for 72 hours, and have come before the wallet's latest join (every device after the
   * one the wallet was made with came by a join; removed ones count too).
   */
  private unfreezeRefusal(): string | null {
    const p = this.requireWallet();
    const times = this.devicesList.map((d) => Date.parse(d.enrolled_at));
    const mine = Date.parse(this.devicesList.find((d) => d.id === p.device_id)?.enrolled_at ?? iso(this.now()));
    if (this.now() < mine + SETTLED_AFTER_MS) {
      return "this device joined the wallet less than 72 hours ago: unfreeze with a recovery code, or from a device that has been in the wallet longer";
    }
    const first = Math.min(...times);
    const joins = times.filter((t) => t > first);
    if (joins.length > 0 && mine >= Math.max(...joins)) {
      return "this device is the wallet's most recent one: unfreeze with a recovery code, or from a device that was in the wallet before it";
    }
    return null;
  }

  private setFrozen(frozen: boolean, by: string): void {
    if (this.frozen === frozen) return;
    this.frozen = frozen;
    this.notice(frozen ? { kind: "wallet_frozen", by } : { kind: "wallet_unfrozen" });
    this.emit({ type: "wallet_changed" });
  }

  private refuseWhileHeld(): void {
    if (this.held === null) return;
    throw fail("account_held", "Inkan has put this account on hold: no payment, top-up or new device until it is lifted; contact support");
  }

  private expireOld(): void {
    const now = this.now();
    for (const c of this.charges.values()) {
      if (c.status === "pending_confirmation" && now >= c.expiresAt) this.expireCharge(c.id);
    }
  }

  private pendingCharge(id: string): Charge {
    this.expireOld();
    const c = this.charges.get(id);
    if (!c) throw fail("not_found", "no such charge");
    if (c.status === "expired") throw fail("invalid_state", "this payment request expired: ask the cashier to scan again");
    if (c.status !== "pending_confirmation") throw fail("invalid_state", "this payment was already answered");
    return c;
  }

  private applyPendingRaise(): void {
    if (this.pendingRaise && this.now() >= this.pendingRaise.effectiveAt) {
      this.limits = this.pendingRaise.policy;
      this.pendingRaise = null;
    }
  }

  private limitsView(): LimitsView {
    this.applyPendingRaise();
    const l = this.limits;
    const remaining = Math.max(
      0,
      Math.min(l.per_charge, l.daily - this.spentToday, l.monthly - this.spentMonth),
    );
    const raise = this.pendingRaise;
    return {
      per_charge: yen(l.per_charge),
      daily: yen(l.daily),
      monthly: yen(l.monthly),
      spent_today: yen(this.spentToday),
      spent_this_month: yen(this.spentMonth),
      remaining: yen(remaining),
      pending: raise
        ? {
            per_charge: yen(raise.policy.per_charge),
            daily: yen(raise.policy.daily),
            monthly: yen(raise.policy.monthly),
            effective_at: iso(raise.effectiveAt),
            effective_in_ms: raise.effectiveAt - this.now(),
          }
        : null,
    };
  }

  private chargeView(c: Charge): ChargeView {
    return {
      id: c.id,
      status: c.status,
      amount: yen(c.amount),
      merchant_name: c.merchant,
      description: c.description,
      created_at: iso(c.createdAt),
      expires_at: iso(c.expiresAt),
    };
  }

  private cardView(c: Card): CardView {
    return { id: c.id, brand: c.brand, last4: c.last4, status: c.status };
  }

  private joinView(j: Join): JoinView {
    return { join_id: j.id, state: j.state, device_name: j.name, device_fingerprint: j.fingerprint, expires_at: iso(j.expiresAt) };
  }
}

/** The existing wallet a device can join in the mock, and the recovery codes it accepts. */
export const MOCK_JOIN_ACCOUNT = "acc_demo";
export const MOCK_JOIN_CODES: readonly string[] = ["DEMO-CODE-0001", "DEMO-CODE-0002"];
