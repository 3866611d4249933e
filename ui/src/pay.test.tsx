import { fireEvent, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { CHALLENGE_CARD } from "./backend/mock";
import { renderWallet, settle, tick } from "./test/harness";

describe("pay", () => {
  it("shows the code as a QR image with its text, and a countdown that brings a new code", async () => {
    const { clock } = await renderWallet();
    await waitFor(() => expect(clock.pending).toBe(1));
    const qr = screen.getByTestId("pay-qr");
    expect(qr.getAttribute("role")).toBe("img");
    expect(qr.getAttribute("aria-label")).toMatch(/Payment code/);
    expect(qr.querySelector("svg")).not.toBeNull();
    const first = screen.getByTestId("code-text").textContent;
    expect(first).toMatch(/^MOCK1\./);
    expect(qr.getAttribute("data-code")).toBe(first);
    expect(screen.getByTestId("countdown").textContent).toContain("New code in 30 s");

    await tick(clock, 1000);
    expect(screen.getByTestId("countdown").textContent).toContain("New code in 29 s");
    expect(screen.getByTestId("code-text").textContent).toBe(first);

    await tick(clock, 29_000);
    await waitFor(() => expect(screen.getByTestId("code-text").textContent).not.toBe(first));
    const second = screen.getByTestId("code-text").textContent;
    expect(screen.getByTestId("pay-qr").getAttribute("data-code")).toBe(second);
    expect(screen.getByTestId("countdown").textContent).toContain("New code in 30 s");
    expect(screen.getByText("A new payment code is shown.")).toBeTruthy();
  });

  it("shows a fresh code as soon as a till has used the one on screen", async () => {
    const { mock } = await renderWallet();
    const first = screen.getByTestId("code-text").textContent;
    mock.simulateCharge("Lawson", 1280);
    await waitFor(() => expect(screen.getByTestId("code-text").textContent).not.toBe(first));
  });

  it("leaves no timer running after leaving the Pay screen", async () => {
    const { clock } = await renderWallet();
    await waitFor(() => expect(clock.pending).toBe(1));
    fireEvent.click(screen.getByTestId("nav-settings"));
    await settle();
    expect(clock.pending).toBe(0);
  });

  it("shows the balance and today's remaining limit from the backend's amounts", async () => {
    await renderWallet();
    expect(screen.getByTestId("balance").textContent).toBe("¥18,720");
    expect(screen.getByTestId("remaining-today").textContent).toBe("¥50,000");
  });

  it("shows an offline badge while the live feed is down", async () => {
    const { mock } = await renderWallet();
    expect(screen.queryByTestId("offline-badge")).toBeNull();
    mock.setOnline(false);
    await settle();
    expect(screen.getByTestId("offline-badge").textContent).toContain("codes still work offline");
    // Codes are made on the device: the QR stays.
    expect(screen.getByTestId("pay-qr")).toBeTruthy();
    mock.setOnline(true);
    await settle();
    expect(screen.queryByTestId("offline-badge")).toBeNull();
  });

  it("shows no code while frozen, and unfreezes with a recovery code when the passkey may not", async () => {
    const { mock } = await renderWallet();
    const byCode = vi.spyOn(mock, "unfreezeWithRecoveryCode");
    fireEvent.click(screen.getByTestId("nav-security"));
    fireEvent.click(await screen.findByTestId("freeze"));
    await screen.findByTestId("unfreeze");
    expect(mock.isFrozen).toBe(true);
    fireEvent.click(screen.getByTestId("nav-pay"));
    const banner = await screen.findByTestId("frozen-banner");
    expect(screen.queryByTestId("pay-qr")).toBeNull();
    expect(screen.queryByTestId("code-text")).toBeNull();
    expect(within(banner).getByTestId("unfreeze-rule").textContent).toBe(
      "A device can unfreeze with its passkey once it has been in this wallet for 72 hours, and only if it was here before the most recently added device. Otherwise, use one of your recovery codes.",
    );
    const input = within(banner).getByTestId("unfreeze-code") as HTMLInputElement;
    expect(input.closest("[hidden]")).not.toBeNull();

    // The backend refuses this device's passkey (Rust's rule: it is too new): the code field opens.
    mock.failNext("unfreeze", {
      code: "unfreeze_not_allowed",
      message: "this device joined the wallet less than 72 hours ago: unfreeze with a recovery code, or from a device that has been in the wallet longer",
    });
    fireEvent.click(within(banner).getByTestId("unfreeze"));
    const error = await within(banner).findByTestId("error");
    expect(error.getAttribute("data-code")).toBe("unfreeze_not_allowed");
    expect(error.textContent).toContain(
      "This device's passkey cannot unfreeze the wallet: it joined less than 72 hours ago, or it is the most recently added device. Use a recovery code",
    );
    expect(input.closest("[hidden]")).toBeNull();
    expect(within(banner).getByTestId("unfreeze-code-toggle").getAttribute("aria-expanded")).toBe("true");
    expect(within(banner).getByLabelText("Recovery code")).toBe(input);
    await waitFor(() => expect(document.activeElement).toBe(input));
    expect(mock.isFrozen).toBe(true);
    expect(screen.queryByTestId("pay-qr")).toBeNull();

    const code = mock.latestRecoveryCodes[0]!;
    fireEvent.input(input, { target: { value: code } });
    fireEvent.click(within(banner).getByTestId("unfreeze-with-code"));
    await screen.findByTestId("pay-qr");
    expect(screen.queryByTestId("frozen-banner")).toBeNull();
    expect(mock.isFrozen).toBe(false);
    // The code as typed went to the backend, once.
    expect(byCode.mock.calls).toEqual([[code]]);
  });

  it("unfreezes with this device's passkey when the backend lifts the freeze", async () => {
    const { mock } = await renderWallet();
    const byCode = vi.spyOn(mock, "unfreezeWithRecoveryCode");
    fireEvent.click(screen.getByTestId("nav-security"));
    fireEvent.click(await screen.findByTestId("freeze"));
    await screen.findByTestId("unfreeze");
    fireEvent.click(screen.getByTestId("nav-pay"));
    const banner = await screen.findByTestId("frozen-banner");
    expect(within(banner).getByTestId("unfreeze-rule")).toBeTruthy();
    fireEvent.click(within(banner).getByTestId("unfreeze"));
    await screen.findByTestId("pay-qr");
    expect(screen.queryByTestId("frozen-banner")).toBeNull();
    expect(screen.queryByTestId("error")).toBeNull();
    expect(mock.isFrozen).toBe(false);
    // No recovery code was asked for or sent.
    expect(byCode).not.toHaveBeenCalled();
  });

  it("shows no code while Inkan holds the account, says why and whom to ask, until it is lifted", async () => {
    const { mock } = await renderWallet();
    mock.setHeld("a payment is being checked for fraud");
    const banner = await screen.findByTestId("held-banner");
    expect(banner.getAttribute("role")).toBe("alert");
    const heading = within(banner).getByRole("heading");
    expect(heading.textContent).toBe("Your account is on hold");
    expect(banner.getAttribute("aria-labelledby")).toBe(heading.id);
    expect(screen.getByTestId("held-reason").textContent).toBe("Reason: a payment is being checked for fraud");
    expect(banner.textContent).toContain("contact Inkan support");
    expect(screen.queryByTestId("pay-qr")).toBeNull();
    expect(screen.queryByTestId("code-text")).toBeNull();
    // Only Inkan can lift a hold: nothing on the banner offers to.
    expect(within(banner).queryByRole("button")).toBeNull();

    mock.setHeld(null);
    await screen.findByTestId("pay-qr");
    expect(screen.queryByTestId("held-banner")).toBeNull();
  });

  it("says the hold in Japanese, with the operator's reason as given", async () => {
    const { mock } = await renderWallet({ systemLanguage: "ja-JP" });
    mock.setHeld("identity check");
    const banner = await screen.findByTestId("held-banner");
    expect(within(banner).getByRole("heading").textContent).toBe("アカウントの利用が停止されています");
    expect(screen.getByTestId("held-reason").textContent).toBe("理由：identity check");
    expect(banner.textContent).toContain("Inkan サポートにお問い合わせください。");
    expect(screen.queryByTestId("pay-qr")).toBeNull();
  });

  it("adds a card that needs a challenge code, then adds money from it", async () => {
    const { mock } = await renderWallet();
    const addCard = vi.spyOn(mock, "addCard");
    const topUp = vi.spyOn(mock, "topUp");
    fireEvent.click(screen.getByTestId("add-money"));
    // The seeded wallet has a verified card; add another.
    fireEvent.click(await screen.findByTestId("add-another-card"));
    fireEvent.input(screen.getByTestId("card-number"), { target: { value: "4000 0000 0000 3221" } });
    fireEvent.input(screen.getByTestId("card-exp-month"), { target: { value: "12" } });
    fireEvent.input(screen.getByTestId("card-exp-year"), { target: { value: "2030" } });
    fireEvent.input(screen.getByTestId("card-cvc"), { target: { value: "123" } });
    // The backend refuses the number (Rust checks it): its sentence is shown, and the form stays.
    mock.failNext("addCard", { code: "card_declined", message: "this card number is not valid" });
    fireEvent.click(screen.getByTestId("add-card"));
    const refused = await screen.findByTestId("error");
    expect(refused.textContent).toContain("this card number is not valid");
    expect(refused.getAttribute("data-code")).toBe("card_declined");
    expect(addCard).toHaveBeenLastCalledWith({ number: "4000000000003221", exp_month: 12, exp_year: 2030, cvc: "123" });
    expect((screen.getByTestId("add-card") as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId("challenge-code")).toBeNull();

    fireEvent.input(screen.getByTestId("card-number"), { target: { value: CHALLENGE_CARD.replace(/(\d{4})/g, "$1 ").trim() } });
    // A month the screen itself refuses: the backend is not asked.
    fireEvent.input(screen.getByTestId("card-exp-month"), { target: { value: "13" } });
    fireEvent.click(screen.getByTestId("add-card"));
    expect((await screen.findByTestId("error")).textContent).toContain("expiry month");
    expect(addCard).toHaveBeenCalledTimes(1);
    fireEvent.input(screen.getByTestId("card-exp-month"), { target: { value: "12" } });
    fireEvent.click(screen.getByTestId("add-card"));

    // A wrong challenge code, as the backend answers it: the sentence, and the code can be tried again.
    mock.failNext("verifyCard", { code: "card_declined", message: "the code is not right (4 attempts left)" });
    fireEvent.input(await screen.findByTestId("challenge-code"), { target: { value: "000000" } });
    fireEvent.click(screen.getByTestId("verify-card"));
    expect((await screen.findByTestId("error")).textContent).toContain("4 attempts left");
    expect((screen.getByTestId("verify-card") as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId("topup-amount")).toBeNull();
    fireEvent.input(screen.getByTestId("challenge-code"), { target: { value: "123456" } });
    fireEvent.click(screen.getByTestId("verify-card"));

    fireEvent.input(await screen.findByTestId("topup-amount"), { target: { value: "abc" } });
    fireEvent.click(screen.getByTestId("top-up"));
    expect((await screen.findByTestId("error")).textContent).toContain("whole number");
    expect(topUp).not.toHaveBeenCalled();
    expect(mock.currentBalance).toBe(18_720);
    fireEvent.input(screen.getByTestId("topup-amount"), { target: { value: "5000" } });
    fireEvent.click(screen.getByTestId("top-up"));
    expect((await screen.findByTestId("topup-done")).textContent).toBe("Added ¥5,000. Your balance is now ¥23,720.");
    await waitFor(() => expect(screen.getByTestId("balance").textContent).toBe("¥23,720"));
  });

  it("closes the Add money sheet with Escape and gives focus back", async () => {
    await renderWallet();
    const opener = screen.getByTestId("add-money");
    opener.focus();
    fireEvent.click(opener);
    const sheet = await screen.findByTestId("add-money-sheet");
    expect(document.activeElement).toBe(sheet);
    fireEvent.keyDown(sheet, { key: "Escape" });
    await settle();
    expect(screen.queryByTestId("add-money-sheet")).toBeNull();
    expect(document.activeElement).toBe(opener);
  });
});
