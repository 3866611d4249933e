import { describe, expect, it } from "vitest";
import { errorText, noticeText } from "./i18n";

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
    const declined = { code: "card_declined", message: "the card was declined; one more failure locks it" };
    expect(errorText({ ...declined, tries_left: 1 }, "ja")).toContain("あと1回");
    expect(errorText({ ...declined, tries_left: 0 }, "ja")).toContain("サポート");
    const locked = { code: "attempts_locked", message: "locked", locked_until: "2026-12-05T12:30:00Z" };
    expect(errorText(locked, "ja")).toContain("までロック");
    // No table entry: the server's message, which says it already.
    expect(errorText({ ...declined, code: "something_new", tries_left: 1 }, "en")).toBe(declined.message);
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
