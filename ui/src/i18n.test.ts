import { describe, expect, it } from "vitest";
import type { AppError } from "./bindings";
import { appErrorCodes, dictionaries, errorText, noticeText } from "./i18n";

describe("failed tries notices", () => {
  it("warn before the last try and say how a lock ends", () => {
    const warn = { kind: "tries_running_out", secret: "recovery_code", left: 1 } as const;
    expect(noticeText(warn, null, "en", null)).toBe("Another wrong recovery code: one more wrong try locks it");
    expect(noticeText(warn, null, "ja", null)).toContain("リカバリーコード");
    const card = { kind: "tries_locked", secret: "card", until: null } as const;
    expect(noticeText(card, null, "en", null)).toContain("contact Inkan support");
    expect(noticeText(card, null, "ja", null)).toContain("サポート");
    const passkey = { kind: "tries_locked", secret: "passkey", until: "2026-12-05T12:30:00Z" } as const;
    const en = noticeText(passkey, null, "en", null);
    expect(en).toContain("the passkey is locked until");
    expect(en).not.toContain("2026-12-05T");
    // A secret this version does not know yet is shown as it is.
    expect(noticeText({ kind: "tries_running_out", secret: "pin_code", left: 1 }, null, "en", null)).toContain("pin code");
  });
});

describe("an error of a failed try", () => {
  it("adds the warning or the lock to the known text", () => {
    const declined: AppError = { code: "card_declined", message: "the card was declined; one more failure locks it" };
    expect(errorText({ ...declined, tries_left: 1 }, "ja")).toBe("カードが承認されませんでした。入力内容を確認してください。 あと1回誤るとロックされます。");
    expect(errorText({ ...declined, tries_left: 0 }, "ja")).toContain("サポート");
    const locked: AppError = { code: "attempts_locked", message: "locked until 12:30", locked_until: "2026-12-05T12:30:00Z" };
    expect(errorText(locked, "ja")).toContain("までロック");
    expect(errorText(locked, "ja")).not.toContain("2026-12-05T");
    // No sentence of the app's own in English: the server's message, which says it already.
    expect(errorText({ ...declined, tries_left: 1 }, "en")).toBe(declined.message);
    expect(errorText(locked, "en")).toBe(locked.message);
    // The app's own English sentence gets the same warning and lock.
    const own: AppError = { code: "unknown", message: "x" };
    expect(errorText({ ...own, tries_left: 1 }, "en")).toMatch(/ One more wrong try locks it\.$/);
    expect(errorText({ ...own, locked_until: "2026-12-05T12:30:00Z" }, "en")).toMatch(/ Locked until .+\.$/);
    expect(errorText({ ...own, tries_left: 0 }, "en")).toMatch(/ It is now locked: contact Inkan support\.$/);
    // A code newer than this UI that did not come through `toAppError` (which makes it `unknown`): its message.
    const newer = { ...declined, code: "something_new", tries_left: 1 } as unknown as AppError;
    expect(errorText(newer, "en")).toBe(declined.message);
    expect(errorText(newer, "ja")).toBe(declined.message);
  });
});

describe("every error code", () => {
  const message = "the Rust side's English message (some_code)";

  it("is known at run time, from the tables the compiler checks", () => {
    expect(appErrorCodes.size).toBeGreaterThan(40);
    for (const code of ["payment_code_invalid", "internal", "biometric_lockout", "qr", "unknown"]) expect(appErrorCodes.has(code)).toBe(true);
    // Only the codes: not what every object has.
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) expect(appErrorCodes.has(name)).toBe(false);
  });

  it("has a Japanese sentence of its own, never the English message", () => {
    for (const code of appErrorCodes) {
      const error = { code, message } as AppError;
      const ja = errorText(error, "ja");
      expect(ja.trim(), code).not.toBe("");
      expect(ja, code).not.toContain(message);
      expect(ja, code).not.toBe(errorText(error, "en"));
      expect(ja, code).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);
      expect(ja, code).toMatch(/。$/);
    }
  });

  it("in English, is the Rust message unless the app's own sentence says it better", () => {
    for (const code of appErrorCodes) expect(errorText({ code, message } as AppError, "en").trim(), code).not.toBe("");
    // Specific: an amount, a limit, the server's reason.
    for (const code of ["limit_exceeded", "insufficient_funds", "card_declined", "unreachable", "invalid_input"] as const) {
      expect(errorText({ code, message }, "en"), code).toBe(message);
    }
    // Technical or confusing to a shopper.
    for (const code of ["internal", "protocol", "overloaded", "too_many_requests", "request_timeout", "unknown"] as const) {
      const en = errorText({ code, message }, "en");
      expect(en, code).not.toBe(message);
      expect(en, code).toMatch(/^[A-Z].*\.$/);
    }
  });
});

describe("a payment held for review", () => {
  it("says why in words, and what to do if it is not the shopper's", () => {
    const held = {
      kind: "charge_held",
      charge_id: "ch_1",
      amount: 25000,
      currency: "JPY",
      merchant_name: "Lawson",
      reason: "new_device_first_charge",
    } as const;
    const en = noticeText(held, null, "en", null);
    expect(en).toContain("a large first payment from a new device");
    expect(en).toContain("Freeze your wallet");
    expect(noticeText(held, null, "ja", null)).toContain("新しい端末からの高額な初回支払い");
    // A reason this version does not know yet still reads as a sentence.
    expect(noticeText({ ...held, reason: "night_owl" }, null, "en", null)).toContain("an unusual payment");
    const declined = { kind: "charge_review_declined", charge_id: "ch_1", amount: 25000, currency: "JPY", merchant_name: "Lawson" } as const;
    expect(noticeText(declined, null, "ja", null)).toContain("拒否");
  });
});

describe("counts in English", () => {
  const en = (notice: Parameters<typeof noticeText>[0]) => noticeText(notice, null, "en", null);
  const ja = (notice: Parameters<typeof noticeText>[0]) => noticeText(notice, null, "ja", null);

  it("take the plural form for 0 and 2, the singular for 1", () => {
    const sessions = (count: number) => ({ kind: "sessions_ended", count, reason: "device_removed" }) as const;
    expect(en(sessions(0))).toBe("0 sessions ended: a device was removed");
    expect(en(sessions(1))).toBe("1 session ended: a device was removed");
    expect(en(sessions(2))).toBe("2 sessions ended: a device was removed");

    const codes = (count: number) => ({ kind: "recovery_codes_replaced", count }) as const;
    expect(en(codes(0))).toBe("0 new recovery codes were made; the old ones no longer work");
    expect(en(codes(1))).toBe("1 new recovery code was made; the old ones no longer work");
    expect(en(codes(2))).toBe("2 new recovery codes were made; the old ones no longer work");

    const passkeys = (count: number) => ({ kind: "passkey_removed", device_id: "dev_other", count }) as const;
    expect(en(passkeys(0))).toBe("A removed device's 0 passkeys were deleted");
    expect(en(passkeys(1))).toBe("A removed device's passkey was deleted");
    expect(en(passkeys(2))).toBe("A removed device's 2 passkeys were deleted");

    const saved = (events: number) => dictionaries.en.exported(events, "/tmp/h.jsonl");
    expect(saved(0)).toMatch(/^Saved 0 events, checked/);
    expect(saved(1)).toMatch(/^Saved 1 event, checked/);
    expect(saved(2)).toMatch(/^Saved 2 events, checked/);
  });

  it("are the same words in Japanese, which has no plural forms", () => {
    const sessions = (count: number) => ({ kind: "sessions_ended", count, reason: "device_removed" }) as const;
    expect(ja(sessions(0))).toBe("0件のセッションを終了しました（端末が削除されたため）");
    expect(ja(sessions(1))).toBe("1件のセッションを終了しました（端末が削除されたため）");
    expect(ja(sessions(2))).toBe("2件のセッションを終了しました（端末が削除されたため）");
    expect(ja({ kind: "recovery_codes_replaced", count: 1 })).toBe("新しいリカバリーコードが1個作成され、以前のコードは使えなくなりました");
    expect(dictionaries.ja.exported(1, "/tmp/h.jsonl")).toMatch(/^1件のイベントを/);
    expect(dictionaries.ja.exported(2, "/tmp/h.jsonl")).toMatch(/^2件のイベントを/);
  });
});
