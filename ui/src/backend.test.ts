import { afterEach, describe, expect, it, vi } from "vitest";
import { toAppError } from "./errors";
import { errorText } from "./i18n";
import { MockBackend, mockFingerprint } from "./backend/mock";
import { selectBackend } from "./backend/select";
import { tauriBackend } from "./backend/tauri";

describe("backend selection", () => {
  afterEach(() => {
    delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
    vi.unstubAllEnvs();
  });

  it("uses the mock in a plain browser during development", async () => {
    const { backend, mock } = await selectBackend();
    expect(backend).toBeInstanceOf(MockBackend);
    expect(mock).toBe(backend);
  });

  it("uses Tauri inside the app, never the mock", async () => {
    (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {};
    const { backend, mock } = await selectBackend();
    expect(backend).toBe(tauriBackend);
    expect(mock).toBeNull();
  });

  it("never uses the mock in a production build, even in a plain browser", async () => {
    vi.stubEnv("DEV", false);
    const { backend, mock } = await selectBackend();
    expect(backend).toBe(tauriBackend);
    expect(mock).toBeNull();
  });
});

describe("errors", () => {
  it("keeps an AppError's code and message, and wraps what Tauri itself rejects with", () => {
    expect(toAppError({ code: "limit_exceeded", message: "over" })).toEqual({ code: "limit_exceeded", message: "over" });
    expect(toAppError("invalid args `input` for command `set_limits`")).toEqual({
      code: "unknown",
      message: "invalid args `input` for command `set_limits`",
    });
    expect(toAppError(new Error("boom")).message).toBe("boom");
  });

  it("says the operator's kill switches in Japanese, and keeps the backend's English in English", () => {
    const held = { code: "account_held", message: "Inkan has put this account on hold" };
    expect(errorText(held, "ja")).toBe("このアカウントは Inkan により利用が停止されています。Inkan サポートにお問い合わせください。");
    expect(errorText(held, "en")).toBe("Inkan has put this account on hold");
    expect(errorText({ code: "top_ups_suspended", message: "" }, "ja")).toBe("現在、チャージとカードの登録は一時停止されています。");
    expect(errorText({ code: "enrolment_suspended", message: "" }, "ja")).toBe(
      "現在、ウォレットの新規作成と端末の追加は一時停止されています。",
    );
  });

  it("says the history changed on the server in both languages, whatever the backend's wording", () => {
    const changed = { code: "history_changed", message: "the history changed on the server: notice 4 …" };
    expect(errorText(changed, "en")).toContain("no longer matches what this device verified before");
    expect(errorText(changed, "en")).toContain("Contact Inkan support");
    expect(errorText(changed, "ja")).toContain("Inkan の署名と一致しません");
  });

  it("says why a passkey may not unfreeze, in the app's own words, in both languages", () => {
    const refused = { code: "unfreeze_not_allowed", message: "this device is the wallet's most recent one: …" };
    expect(errorText(refused, "en")).toBe(
      "This device's passkey cannot unfreeze the wallet: it joined less than 72 hours ago, or it is the most recently added device. Use a recovery code, or unfreeze from a device that has been in the wallet longer.",
    );
    expect(errorText(refused, "ja")).toContain("この端末のパスキーでは凍結を解除できません。");
    expect(errorText(refused, "ja")).toContain("リカバリーコードを使うか");
  });
});

describe("mock backend", () => {
  it("closing the wallet pays the balance back once, and it stays closed", async () => {
    const mock = new MockBackend({ seeded: true });
    const before = await mock.status();
    const closed = await mock.closeWallet();
    expect(closed.paid_back).toEqual(before.balance);
    expect(closed.card_last4).toMatch(/^\d{4}$/);
    expect(await mock.closeWallet()).toEqual(closed);
    const after = await mock.status();
    expect(after.frozen).toBe(true);
    expect(after.balance).not.toEqual(before.balance);
    await expect(mock.unfreeze()).rejects.toMatchObject({ code: "invalid_state" });
    const activity = await mock.activity();
    expect(activity.filter((i) => i.notice.kind === "wallet_closed")).toHaveLength(1);
  });

  it("rejects bad input with {code, message} and changes nothing", async () => {
    const mock = new MockBackend({ seeded: true });
    const before = await mock.status();
    await expect(mock.setLimits({ per_charge: 0, daily: 1, monthly: 1 })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(mock.topUp("card_nope", 100)).rejects.toMatchObject({ code: "not_found" });
    await expect(mock.approve("ch_nope")).rejects.toMatchObject({ code: "not_found" });
    expect(await mock.status()).toEqual(before);
  });

  it("approving moves money and tells the window: activity, charge_settled, wallet_changed", async () => {
    const mock = new MockBackend({ seeded: true });
    const seen: string[] = [];
    await mock.onEvent((e) => seen.push(e.type));
    const charge = mock.simulateCharge("Lawson", 1280);
    seen.length = 0;
    const done = await mock.approve(charge.id);
    expect(done.status).toBe("succeeded");
    expect(seen).toEqual(["activity", "charge_settled", "wallet_changed"]);
    expect((await mock.status()).balance.en).toBe("¥17,440");
    await expect(mock.approve(charge.id)).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("an operator's hold refuses payments, top-ups and new devices with account_held until it is lifted", async () => {
    const mock = new MockBackend({ seeded: true });
    const charge = mock.simulateCharge("Lawson", 1280);
    const join = mock.simulateJoinRequest("Work laptop");
    const [card] = await mock.cards();
    mock.setHeld("identity check");
    expect((await mock.status()).held).toBe("identity check");
    expect((await mock.activity())[0]).toMatchObject({ category: "security", notice: { kind: "account_held", reason: "identity check" } });
    await expect(mock.approve(charge.id)).rejects.toMatchObject({ code: "account_held" });
    await expect(mock.topUp(card!.id, 1000)).rejects.toMatchObject({ code: "account_held" });
    await expect(mock.approveJoin(join.join_id)).rejects.toMatchObject({ code: "account_held" });
    expect(mock.currentBalance).toBe(18_720);

    mock.setHeld(null);
    expect((await mock.status()).held).toBeNull();
    expect((await mock.activity())[0]).toMatchObject({ category: "security", notice: { kind: "account_released" } });
    expect((await mock.approve(charge.id)).status).toBe("succeeded");
  });

  it("binds a join to its device's key: the fingerprint, not the join's id, goes in the notice", async () => {
    const mock = new MockBackend({ seeded: true });
    const join = mock.simulateJoinRequest("Work laptop");
    expect(join.device_fingerprint).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$/);
    const [item] = await mock.activity();
    expect(item!.notice).toEqual({ kind: "device_join_requested", name: "Work laptop", fingerprint: join.device_fingerprint });
    expect(await mock.waitingJoins()).toEqual([join]);
    expect((await mock.approveJoin(join.join_id)).device_fingerprint).toBe(join.device_fingerprint);
    // Another device asking gets another key.
    expect(mock.simulateJoinRequest("Work laptop").device_fingerprint).not.toBe(join.device_fingerprint);
    // The same for the same seed.
    expect(mockFingerprint("join_1:Laptop")).toBe(mockFingerprint("join_1:Laptop"));
  });

  it("removes a device, but never the wallet's last active one", async () => {
    const mock = new MockBackend({ seeded: true });
    const me = mock.profile!.device_id;
    const iphone = (await mock.devices()).find((d) => d.name === "iPhone")!;
    await expect(mock.revokeDevice(me)).rejects.toMatchObject({ code: "invalid_input" });
    await expect(mock.revokeDevice("dev_nope")).rejects.toMatchObject({ code: "not_found" });

    mock.simulateDeviceRemovedElsewhere(me);
    await expect(mock.revokeDevice(iphone.id)).rejects.toMatchObject({ code: "invalid_state" });
    expect((await mock.devices()).filter((d) => d.active).map((d) => d.id)).toEqual([iphone.id]);

    const other = new MockBackend({ seeded: true });
    const phone = (await other.devices()).find((d) => d.name === "iPhone")!;
    await other.revokeDevice(phone.id);
    expect((await other.devices()).find((d) => d.id === phone.id)?.active).toBe(false);
    expect((await other.activity())[0]!.notice).toEqual({ kind: "device_revoked", device_id: phone.id, name: "iPhone" });
    // Now this device is the last: not even another device may remove it.
    expect(() => other.simulateDeviceRemovedElsewhere(other.profile!.device_id)).toThrow(
      expect.objectContaining({ code: "invalid_state" }),
    );
  });

  it("lets a device's passkey lift a freeze only once it is 72 hours old and older than the latest join", async () => {
    let now = Date.UTC(2026, 0, 15);
    const mock = new MockBackend({ seeded: true, now: () => now });
    await mock.freeze();
    await expect(mock.unfreeze()).rejects.toMatchObject({ code: "unfreeze_not_allowed", message: expect.stringContaining("less than 72 hours") });
    mock.simulateDeviceAge(71);
    await expect(mock.unfreeze()).rejects.toMatchObject({ code: "unfreeze_not_allowed" });
    expect(mock.isFrozen).toBe(true);
    mock.simulateDeviceAge(72);
    await mock.unfreeze();
    expect(mock.isFrozen).toBe(false);
    expect((await mock.activity())[0]!.notice).toEqual({ kind: "wallet_unfrozen" });

    // A device that joins later does not take that away; the clock moving on does not give it to
    // a brand-new wallet's own device before its 72 hours.
    const join = mock.simulateJoinRequest("Work laptop");
    await mock.approveJoin(join.join_id);
    await mock.freeze();
    await mock.unfreeze();
    const fresh = new MockBackend({ seeded: true, now: () => now });
    await fresh.freeze();
    now += 71 * 3600 * 1000;
    await expect(fresh.unfreeze()).rejects.toMatchObject({ code: "unfreeze_not_allowed" });
    now += 3600 * 1000;
    await fresh.unfreeze();
    expect(fresh.isFrozen).toBe(false);
  });

  it("unfreezes with a recovery code, which is used up; a wrong one is refused and told", async () => {
    const mock = new MockBackend({ seeded: true });
    await mock.freeze();
    const [first, second] = mock.validRecoveryCodes;
    await expect(mock.unfreezeWithRecoveryCode("")).rejects.toMatchObject({ code: "invalid_input" });
    await expect(mock.unfreezeWithRecoveryCode("NOPE-NOPE-NOPE")).rejects.toMatchObject({ code: "unauthorized" });
    expect(mock.isFrozen).toBe(true);
    expect((await mock.activity())[0]!.notice).toEqual({ kind: "recovery_code_rejected" });

    await mock.unfreezeWithRecoveryCode(first!);
    expect(mock.isFrozen).toBe(false);
    const [unfrozen, used] = await mock.activity();
    expect(unfrozen!.notice).toEqual({ kind: "wallet_unfrozen" });
    expect(used!.notice).toEqual({ kind: "recovery_code_used", remaining: 7 });
    expect(mock.validRecoveryCodes).not.toContain(first);

    await mock.freeze();
    await expect(mock.unfreezeWithRecoveryCode(first!)).rejects.toMatchObject({ code: "unauthorized" });
    // Written as people type it: spaces, lower case, no dashes.
    await mock.unfreezeWithRecoveryCode(` ${second!.replace(/-/g, "").toLowerCase()} `);
    expect(mock.isFrozen).toBe(false);
  });

  it("replaces every recovery code with ten new ones", async () => {
    const mock = new MockBackend({ seeded: true });
    const server = mock.defaults.server;
    const account = mock.profile!.account_id;
    const old = [...mock.validRecoveryCodes];
    const codes = await mock.replaceRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(old).not.toContain(c);
    expect(mock.validRecoveryCodes).toEqual(codes);
    expect((await mock.activity())[0]!.notice).toEqual({ kind: "recovery_codes_replaced", count: 10 });
    // Made at the same moment again, still new ones.
    expect((await mock.replaceRecoveryCodes()).some((c) => codes.includes(c))).toBe(false);
    const latest = [...mock.validRecoveryCodes];

    await expect(mock.freezeWithRecoveryCode({ server, account_id: account, recovery_code: old[0]! })).rejects.toMatchObject({ code: "unauthorized" });
    await expect(mock.freezeWithRecoveryCode({ server, account_id: account, recovery_code: codes[0]! })).rejects.toMatchObject({ code: "unauthorized" });
    await mock.freezeWithRecoveryCode({ server, account_id: account, recovery_code: latest[0]! });
    expect(mock.isFrozen).toBe(true);
    // Freezing does not use the code up.
    expect(mock.validRecoveryCodes).toEqual(latest);
    await expect(mock.unfreezeWithRecoveryCode(old[1]!)).rejects.toMatchObject({ code: "unauthorized" });
    await mock.unfreezeWithRecoveryCode(latest[0]!);
    expect(mock.isFrozen).toBe(false);
  });

  it("lowers limits at once and holds a raise for 24 hours", async () => {
    let now = Date.UTC(2026, 0, 15);
    const mock = new MockBackend({ seeded: true, now: () => now });
    const lowered = await mock.setLimits({ per_charge: 10_000, daily: 50_000, monthly: 300_000 });
    expect(lowered.daily.minor).toBe(50_000);
    expect(lowered.pending).toBeNull();
    const raised = await mock.setLimits({ per_charge: 10_000, daily: 80_000, monthly: 300_000 });
    expect(raised.daily.minor).toBe(50_000);
    expect(raised.pending?.daily.minor).toBe(80_000);
    expect(raised.pending?.effective_in_ms).toBe(24 * 3600 * 1000);
    now += 24 * 3600 * 1000;
    const later = (await mock.status()).limits;
    expect(later.daily.minor).toBe(80_000);
    expect(later.pending).toBeNull();
  });
});
