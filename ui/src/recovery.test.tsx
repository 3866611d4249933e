import { fireEvent, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import type { AppError, Notice } from "./bindings";
import type { MockBackend } from "./backend/mock";
import { renderWallet } from "./test/harness";

/** How the backend refuses this device's passkey when Rust's rule says it may not unfreeze. */
const tooNew: AppError = {
  code: "unfreeze_not_allowed",
  message: "this device joined the wallet less than 72 hours ago: unfreeze with a recovery code, or from a device that has been in the wallet longer",
};
/** How the backend refuses a recovery code that is wrong or used. */
const wrongCode: AppError = { code: "unauthorized", message: "that recovery code is not valid for this wallet" };

/** Security → Freeze, and the freeze block once frozen. */
async function freezeOnSecurity(mock: MockBackend): Promise<HTMLElement> {
  fireEvent.click(screen.getByTestId("nav-security"));
  fireEvent.click(await screen.findByTestId("freeze"));
  const unfreeze = await screen.findByTestId("unfreeze");
  expect(mock.isFrozen).toBe(true);
  return unfreeze.closest(".card-block") as HTMLElement;
}

function enterCode(block: HTMLElement, code: string): void {
  const input = within(block).getByTestId("unfreeze-code") as HTMLInputElement;
  if (input.closest("[hidden]")) fireEvent.click(within(block).getByTestId("unfreeze-code-toggle"));
  expect(input.closest("[hidden]")).toBeNull();
  fireEvent.input(input, { target: { value: code } });
  fireEvent.click(within(block).getByTestId("unfreeze-with-code"));
}

describe("unfreeze on Security", () => {
  it("states the rule, refuses this new device's passkey with the reason, and opens the code field", async () => {
    const { mock } = await renderWallet();
    const block = await freezeOnSecurity(mock);
    expect(within(block).getByTestId("unfreeze-rule").textContent).toContain(
      "A device can unfreeze with its passkey once it has been in this wallet for 72 hours",
    );
    expect((within(block).getByTestId("unfreeze-code") as HTMLElement).closest("[hidden]")).not.toBeNull();

    mock.failNext("unfreeze", tooNew);
    fireEvent.click(within(block).getByTestId("unfreeze"));
    const error = await within(block).findByTestId("error");
    expect(error.getAttribute("data-code")).toBe("unfreeze_not_allowed");
    expect(error.textContent).toContain("Use a recovery code, or unfreeze from a device that has been in the wallet longer.");
    expect((within(block).getByTestId("unfreeze-code") as HTMLElement).closest("[hidden]")).toBeNull();
    expect(mock.isFrozen).toBe(true);
    expect(screen.getByText("Your wallet is frozen.")).toBeTruthy();
  });

  it("keeps the wallet frozen on a refused code, and unfreezes with an accepted one", async () => {
    const { mock } = await renderWallet();
    const block = await freezeOnSecurity(mock);
    const byCode = vi.spyOn(mock, "unfreezeWithRecoveryCode");

    mock.failNext("unfreezeWithRecoveryCode", wrongCode);
    enterCode(block, "WRNG-CODE-0000");
    const error = await within(block).findByTestId("error");
    expect(error.getAttribute("data-code")).toBe("unauthorized");
    expect(error.textContent).toContain("that recovery code is not valid for this wallet");
    expect(mock.isFrozen).toBe(true);
    expect(screen.getByText("Your wallet is frozen.")).toBeTruthy();
    expect(within(block).getByTestId("unfreeze")).toBeTruthy();
    expect((within(block).getByTestId("unfreeze-with-code") as HTMLButtonElement).disabled).toBe(false);

    // An empty code is refused as bad input (not counted as a wrong guess): the screen says so.
    mock.failNext("unfreezeWithRecoveryCode", { code: "invalid_input", message: "enter a recovery code" });
    enterCode(block, "  ");
    expect((await within(block).findByTestId("error")).getAttribute("data-code")).toBe("invalid_input");
    expect(mock.isFrozen).toBe(true);

    // Typed loosely (lower case, without dashes): sent as typed, for the backend to read.
    const loose = mock.latestRecoveryCodes[1]!.replace(/-/g, "").toLowerCase();
    enterCode(block, loose);
    await screen.findByTestId("freeze");
    expect(screen.queryByTestId("unfreeze")).toBeNull();
    expect(screen.queryByTestId("error")).toBeNull();
    expect(screen.queryByText("Your wallet is frozen.")).toBeNull();
    expect(mock.isFrozen).toBe(false);
    expect(byCode.mock.calls).toEqual([["WRNG-CODE-0000"], ["  "], [loose]]);
  });

  it("unfreezes by passkey when the backend lifts the freeze", async () => {
    const { mock } = await renderWallet();
    const block = await freezeOnSecurity(mock);
    fireEvent.click(within(block).getByTestId("unfreeze"));
    await screen.findByTestId("freeze");
    expect(mock.isFrozen).toBe(false);
    expect(screen.queryByTestId("error")).toBeNull();
  });

  it("says the rule and the refusal in Japanese", async () => {
    const { mock } = await renderWallet({ systemLanguage: "ja-JP" });
    const block = await freezeOnSecurity(mock);
    expect(within(block).getByTestId("unfreeze-rule").textContent).toBe(
      "端末のパスキーで凍結を解除できるのは、その端末がこのウォレットに追加されてから72時間以上たち、かつ最も新しく追加された端末より前からある場合だけです。それ以外の場合は、リカバリーコードをお使いください。",
    );
    expect(within(block).getByTestId("unfreeze-code-toggle").textContent).toContain("リカバリーコードを使う");
    mock.failNext("unfreeze", tooNew);
    fireEvent.click(within(block).getByTestId("unfreeze"));
    expect((await within(block).findByTestId("error")).textContent).toContain(
      "この端末のパスキーでは凍結を解除できません。",
    );
    expect(within(block).getByLabelText("リカバリーコード")).toBe(within(block).getByTestId("unfreeze-code"));
    expect(within(block).getByTestId("unfreeze-with-code").textContent).toBe("リカバリーコードで凍結を解除");
  });
});

describe("new recovery codes", () => {
  it("asks first, and shows ten new codes once behind a saved checkbox", async () => {
    const { mock } = await renderWallet();
    const old = [...mock.latestRecoveryCodes];
    fireEvent.click(screen.getByTestId("nav-security"));

    // Cancelling changes nothing.
    fireEvent.click(await screen.findByTestId("replace-codes"));
    const question = screen.getByRole("group", { name: /every old code, used or not, stops working at once/ });
    expect(question.textContent).toContain("You will confirm with your passkey, and the new codes are shown only once.");
    fireEvent.click(within(question).getByTestId("replace-codes-cancel"));
    expect(screen.queryByTestId("replace-codes-confirm")).toBeNull();
    expect(mock.latestRecoveryCodes).toEqual(old);

    fireEvent.click(screen.getByTestId("replace-codes"));
    fireEvent.click(screen.getByTestId("replace-codes-confirm"));
    const list = await screen.findByTestId("new-recovery-codes");
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(10);
    const shown = items.map((li) => li.textContent);
    expect(shown).toEqual(mock.latestRecoveryCodes);
    for (const code of shown) expect(old).not.toContain(code);
    for (const li of items) expect(li.querySelector("code")).not.toBeNull();
    expect(screen.getByText("These codes will never be shown again.")).toBeTruthy();
    await waitFor(() => expect(document.activeElement?.textContent).toBe("Your new recovery codes"));
    expect((await mock.activity())[0]!.notice).toEqual({ kind: "recovery_codes_replaced", count: 10 });

    const done = screen.getByTestId("done-new-codes") as HTMLButtonElement;
    expect(done.disabled).toBe(true);
    fireEvent.click(done);
    expect(screen.getByTestId("new-recovery-codes")).toBeTruthy();
    fireEvent.click(screen.getByTestId("saved-new-codes"));
    expect(done.disabled).toBe(false);
    fireEvent.click(done);
    expect(screen.queryByTestId("new-recovery-codes")).toBeNull();
    expect(screen.getByTestId("replace-codes")).toBeTruthy();
    // Gone for good: nothing shows them again.
    fireEvent.click(screen.getByTestId("nav-pay"));
    fireEvent.click(screen.getByTestId("nav-security"));
    await screen.findByTestId("replace-codes");
    expect(screen.queryByTestId("new-recovery-codes")).toBeNull();
    for (const code of shown) expect(screen.queryByText(code!)).toBeNull();
  });
});

describe("security notices", () => {
  it("tells of recovery codes, passkeys and ended sessions, in English and in Japanese", async () => {
    const { mock } = await renderWallet();
    const me = mock.profile!.device_id;
    const cases: [Notice, string, string][] = [
      [{ kind: "recovery_codes_replaced", count: 10 }, "10 new recovery codes were made; the old ones no longer work", "新しいリカバリーコードが10個作成され、以前のコードは使えなくなりました"],
      [{ kind: "recovery_code_rejected" }, "A wrong recovery code was tried for this wallet", "このウォレットに誤ったリカバリーコードが入力されました"],
      [{ kind: "passkey_rejected", device_id: null, during: "sign_in" }, "A passkey was refused (signing in)", "パスキーが拒否されました（サインイン時）"],
      [{ kind: "passkey_rejected", device_id: "dev_other", during: "step_up" }, "A passkey was refused (confirming)", "パスキーが拒否されました（操作の確認時）"],
      [{ kind: "passkey_rejected", device_id: me, during: "payment" }, "A passkey was refused on this device (paying)", "この端末でパスキーが拒否されました（支払い時）"],
      [{ kind: "passkey_added", device_id: "dev_other" }, "A passkey was added", "パスキーが追加されました"],
      [{ kind: "passkey_added", device_id: me }, "A passkey was added for this device", "この端末のパスキーが追加されました"],
      [{ kind: "passkey_removed", device_id: "dev_other", count: 1 }, "A removed device's passkey was deleted", "削除された端末のパスキーを削除しました"],
      [{ kind: "passkey_removed", device_id: "dev_other", count: 2 }, "A removed device's 2 passkeys were deleted", "削除された端末のパスキーを2個削除しました"],
      [{ kind: "sessions_ended", count: 1, reason: "device_removed" }, "1 session ended: a device was removed", "1件のセッションを終了しました（端末が削除されたため）"],
      [{ kind: "sessions_ended", count: 3, reason: "wallet_frozen" }, "3 sessions ended: the wallet was frozen", "3件のセッションを終了しました（ウォレットが凍結されたため）"],
      [{ kind: "sessions_ended", count: 2, reason: "account_held" }, "2 sessions ended: Inkan put the account on hold", "2件のセッションを終了しました（Inkan がアカウントの利用を停止したため）"],
      [{ kind: "card_verification_failed", last4: "3220", locked: false }, "Card •••• 3220 was refused or its code was wrong", "カード（末尾3220）が承認されなかったか、確認コードが違いました"],
      [
        { kind: "card_verification_failed", last4: "3220", locked: true },
        "Card •••• 3220 was refused or its code was wrong: no tries are left, cards are locked. Contact Inkan support.",
        "カード（末尾3220）が承認されなかったか、確認コードが違いました。試行回数の上限に達したため、カードはロックされました。Inkan サポートにお問い合わせください。",
      ],
    ];
    fireEvent.click(screen.getByTestId("nav-activity"));
    await screen.findAllByTestId("activity-item");
    for (const [notice] of cases) mock.simulateNotice(notice);
    await waitFor(() => expect(screen.getAllByTestId("activity-item")).toHaveLength(5 + cases.length));
    // Newest first: the last one simulated is at the top.
    const texts = () =>
      screen
        .getAllByTestId("activity-item")
        .slice(0, cases.length)
        .reverse()
        .map((li) => li.querySelector(".activity-text")!.textContent);
    const kinds = screen.getAllByTestId("activity-item").slice(0, cases.length).reverse().map((li) => li.getAttribute("data-kind"));
    expect(kinds).toEqual(cases.map(([n]) => n.kind));
    expect(texts()).toEqual(cases.map(([, en]) => en));
    // A refused code or passkey stands out.
    const items = screen.getAllByTestId("activity-item");
    expect(items.find((li) => li.getAttribute("data-kind") === "recovery_code_rejected")!.className).toContain("tone-warn");
    expect(items.find((li) => li.getAttribute("data-kind") === "passkey_rejected")!.className).toContain("tone-warn");
    // All of them are security notices.
    fireEvent.click(screen.getByTestId("filter-security"));
    expect(screen.getAllByTestId("activity-item").slice(0, cases.length).reverse().map((li) => li.getAttribute("data-kind"))).toEqual(kinds);
    fireEvent.click(screen.getByTestId("filter-all"));

    fireEvent.click(screen.getByTestId("nav-settings"));
    fireEvent.change(await screen.findByTestId("language"), { target: { value: "ja" } });
    fireEvent.click(screen.getByTestId("nav-activity"));
    await screen.findAllByTestId("activity-item");
    expect(texts()).toEqual(cases.map(([, , ja]) => ja));
  });
});
