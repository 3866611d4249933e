import { afterEach, describe, expect, it, vi } from "vitest";
import type { AppError } from "./bindings";
import { toAppError } from "./errors";
import { errorText } from "./i18n";
import { MockBackend, limitsView, mockFingerprint, pendingRaise } from "./backend/mock";
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

  it("makes a code this UI does not know `unknown`, keeping its message", () => {
    const newer = { code: "wallet_on_fire", message: "a newer app's sentence" };
    expect(toAppError(newer)).toEqual({ code: "unknown", message: "a newer app's sentence" });
    expect(toAppError({ code: 42, message: "not a code" })).toEqual({ code: "unknown", message: "not a code" });
    expect(toAppError({ code: "constructor", message: "m" }).code).toBe("unknown");
    expect(errorText(toAppError(newer), "ja")).toBe("問題が発生しました。もう一度お試しください。続く場合は Inkan を再起動してください。");
  });

  it("keeps the tries left and the end of a lock, which the Japanese sentence tells", () => {
    const declined = toAppError({ code: "card_declined", message: "the card was declined", tries_left: 1 });
    expect(declined).toEqual({ code: "card_declined", message: "the card was declined", tries_left: 1 });
    expect(errorText(declined, "ja")).toContain("あと1回誤るとロックされます。");
    expect(errorText(declined, "en")).toBe("the card was declined");
    const locked = toAppError({ code: "attempts_locked", message: "locked", locked_until: "2026-12-05T12:30:00Z" });
    expect(locked.locked_until).toBe("2026-12-05T12:30:00Z");
    expect(errorText(locked, "ja")).toContain("までロックされています。");
    // Fields of the wrong type are left out.
    expect(toAppError({ code: "card_declined", message: "m", tries_left: "1", locked_until: 5 })).toEqual({ code: "card_declined", message: "m" });
  });

  it("says the operator's kill switches in Japanese, and keeps the backend's English in English", () => {
    const held: AppError = { code: "account_held", message: "Inkan has put this account on hold" };
    expect(errorText(held, "ja")).toBe("このアカウントは Inkan により利用が停止されています。Inkan サポートにお問い合わせください。");
    expect(errorText(held, "en")).toBe("Inkan has put this account on hold");
    expect(errorText({ code: "top_ups_suspended", message: "" }, "ja")).toBe("現在、チャージとカードの登録は一時停止されています。");
    expect(errorText({ code: "enrolment_suspended", message: "" }, "ja")).toBe(
      "現在、ウォレットの新規作成と端末の追加は一時停止されています。",
    );
  });

  it("says the history changed on the server in both languages, whatever the backend's wording", () => {
    const changed: AppError = { code: "history_changed", message: "the history changed on the server: notice 4 …" };
    expect(errorText(changed, "en")).toContain("no longer matches what this device verified before");
    expect(errorText(changed, "en")).toContain("Contact Inkan support");
    expect(errorText(changed, "ja")).toContain("Inkan の署名と一致しません");
  });

  it("says why a passkey may not unfreeze, in the app's own words, in both languages", () => {
    const refused: AppError = { code: "unfreeze_not_allowed", message: "this device is the wallet's most recent one: …" };
    expect(errorText(refused, "en")).toBe(
      "This device's passkey cannot unfreeze the wallet: it joined less than 72 hours ago, or it is the most recently added device. Use a recovery code, or unfreeze from a device that has been in the wallet longer.",
    );
    expect(errorText(refused, "ja")).toContain("この端末のパスキーでは凍結を解除できません。");
    expect(errorText(refused, "ja")).toContain("リカバリーコードを使うか");
  });
});

// The mock's own behaviour: fixtures, plain state changes and scripted answers. The product's rules
// (limits, who may unfreeze, recovery codes, a hold, cards, …) are not the mock's: they are tested
// in Rust, where they live.
describe("mock backend", () => {
  it("fails a scripted call once, with the scripted error, changing nothing", async () => {
    const mock = new MockBackend({ seeded: true });
    const before = await mock.status();
    const over: AppError = { code: "limit_exceeded", message: "over the daily limit", tries_left: 1 };
    mock.failNext("setLimits", over);
    mock.failNext("setLimits", { code: "invalid_input", message: "second" });
    await expect(mock.setLimits({ per_charge: 1, daily: 2, monthly: 3 })).rejects.toEqual(over);
    expect(await mock.status()).toEqual(before);
    await expect(mock.setLimits({ per_charge: 1, daily: 2, monthly: 3 })).rejects.toMatchObject({ code: "invalid_input", message: "second" });
    // Then the plain answer again; other methods were never scripted.
    expect((await mock.setLimits({ per_charge: 1, daily: 2, monthly: 3 })).daily.minor).toBe(2);
    expect((await mock.status()).limits.daily.minor).toBe(2);
  });

  it("answers a scripted setLimits, and status reports it from then on", async () => {
    const mock = new MockBackend({ seeded: true, now: () => Date.UTC(2026, 0, 15) });
    mock.answerNext("setLimits", (asked, current, now) => ({ ...current, pending: pendingRaise(asked, now, 3_600_000) }));
    const raised = await mock.setLimits({ per_charge: 50_000, daily: 100_000, monthly: 400_000 });
    expect(raised.monthly.minor).toBe(300_000);
    expect(raised.pending).toEqual(pendingRaise({ per_charge: 50_000, daily: 100_000, monthly: 400_000 }, Date.UTC(2026, 0, 15), 3_600_000));
    expect(raised.pending?.effective_at).toBe("2026-01-15T01:00:00.000Z");
    expect((await mock.status()).limits).toEqual(raised);
    const given = limitsView({ per_charge: 1, daily: 2, monthly: 3, spent_today: 0, spent_this_month: 0, remaining: 1 });
    mock.answerNext("setLimits", given);
    expect(await mock.setLimits({ per_charge: 9, daily: 9, monthly: 9 })).toEqual(given);
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
    expect(await mock.pending()).toEqual([]);
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
});
