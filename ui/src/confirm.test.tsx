import { fireEvent, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import { focusableIn } from "./ui/Sheet";
import { renderWallet, settle } from "./test/harness";

describe("confirm charge", () => {
  it("opens by itself with merchant and amount, keeps focus inside, ignores Escape, and approves", async () => {
    const { mock } = await renderWallet();
    mock.simulateCharge("Lawson", 1280);
    const sheet = await screen.findByTestId("confirm-sheet");
    expect(screen.getByTestId("confirm-merchant").textContent).toBe("Lawson");
    expect(screen.getByTestId("confirm-amount").textContent).toBe("¥1,280");
    // Focus moved into the sheet, on the sheet itself: no button is pre-selected.
    expect(document.activeElement).toBe(sheet);
    // Tab from the last control wraps to the first; Shift+Tab from the first to the last.
    const items = focusableIn(sheet);
    expect(items.map((b) => b.getAttribute("data-testid"))).toEqual(["approve", "decline", "not-me"]);
    items[2]!.focus();
    fireEvent.keyDown(sheet, { key: "Tab" });
    expect(document.activeElement).toBe(items[0]);
    fireEvent.keyDown(sheet, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(items[2]);
    // The rest of the window is out of reach while the sheet is open.
    expect(screen.getByTestId("nav-pay").closest("[inert]")).not.toBeNull();
    // Escape does not approve (nor close).
    fireEvent.keyDown(sheet, { key: "Escape" });
    await settle();
    expect(screen.getByTestId("confirm-sheet")).toBeTruthy();
    expect(await mock.pending()).toHaveLength(1);

    fireEvent.click(screen.getByTestId("approve"));
    await waitFor(() => expect(screen.queryByTestId("confirm-sheet")).toBeNull());
    await waitFor(() => expect(screen.getByTestId("balance").textContent).toBe("¥17,440"));
    expect(screen.getByTestId("remaining-today").textContent).toBe("¥50,000");
    fireEvent.click(screen.getByTestId("nav-activity"));
    const first = (await screen.findAllByTestId("activity-item"))[0]!;
    expect(first.getAttribute("data-kind")).toBe("charge_succeeded");
    expect(first.textContent).toContain("Paid ¥1,280 to Lawson");
  });

  it("declines", async () => {
    const { mock } = await renderWallet();
    mock.simulateCharge("FamilyMart", 800);
    await screen.findByTestId("confirm-sheet");
    fireEvent.click(screen.getByTestId("decline"));
    await waitFor(() => expect(screen.queryByTestId("confirm-sheet")).toBeNull());
    expect(mock.currentBalance).toBe(18_720);
    expect(mock.isFrozen).toBe(false);
    expect(screen.getByTestId("pay-qr")).toBeTruthy();
    fireEvent.click(screen.getByTestId("nav-activity"));
    const first = (await screen.findAllByTestId("activity-item"))[0]!;
    expect(first.getAttribute("data-kind")).toBe("charge_declined");
    expect(first.textContent).toContain("Declined ¥800 at FamilyMart");
  });

  it("'This wasn't me' declines and freezes: frozen banner, no QR", async () => {
    const { mock } = await renderWallet();
    mock.simulateCharge("Unknown shop", 9_800);
    const sheet = await screen.findByTestId("confirm-sheet");
    expect(within(sheet).getByText(/declines the payment and freezes your wallet/)).toBeTruthy();
    fireEvent.click(screen.getByTestId("not-me"));
    await screen.findByTestId("frozen-banner");
    expect(screen.queryByTestId("confirm-sheet")).toBeNull();
    expect(screen.queryByTestId("pay-qr")).toBeNull();
    expect(mock.isFrozen).toBe(true);
    expect(mock.currentBalance).toBe(18_720);
  });

  it("shows an approve error plainly and keeps the buttons usable", async () => {
    const { mock } = await renderWallet();
    mock.simulateCharge("Big Camera", 60_000);
    await screen.findByTestId("confirm-sheet");
    mock.failNext("approve", { code: "limit_exceeded", message: "this payment is above your per-payment limit of ¥50,000" });
    fireEvent.click(screen.getByTestId("approve"));
    const error = await screen.findByTestId("confirm-error");
    expect(error.textContent).toContain("above your per-payment limit");
    expect(within(error).getByTestId("error").getAttribute("data-code")).toBe("limit_exceeded");
    expect((screen.getByTestId("approve") as HTMLButtonElement).disabled).toBe(false);
    expect(mock.currentBalance).toBe(18_720);
    // Declining still works after the failure.
    fireEvent.click(screen.getByTestId("decline"));
    await waitFor(() => expect(screen.queryByTestId("confirm-sheet")).toBeNull());
  });

  it("queues several charges and closes a sheet answered elsewhere", async () => {
    const { mock } = await renderWallet();
    const a = mock.simulateCharge("Shop A", 100);
    mock.simulateCharge("Shop B", 200);
    await screen.findByTestId("confirm-sheet");
    expect(screen.getByTestId("confirm-merchant").textContent).toBe("Shop A");
    expect(screen.getByText("1 more waiting")).toBeTruthy();
    // Shop A expires (or is answered on another device): its sheet closes, B's opens.
    mock.expireCharge(a.id);
    await waitFor(() => expect(screen.getByTestId("confirm-merchant").textContent).toBe("Shop B"));
    fireEvent.click(screen.getByTestId("approve"));
    await waitFor(() => expect(screen.queryByTestId("confirm-sheet")).toBeNull());
    await waitFor(() => expect(screen.getByTestId("balance").textContent).toBe("¥18,520"));
  });

  it("shows charges already waiting when the window opens", async () => {
    const { mock } = await renderWallet({
      before: (m) => {
        m.simulateCharge("Early Shop", 500);
      },
    });
    expect(await screen.findByTestId("confirm-merchant")).toBeTruthy();
    expect(screen.getByTestId("confirm-merchant").textContent).toBe("Early Shop");
    expect(await mock.pending()).toHaveLength(1);
  });
});

describe("confirm charge in Japanese", () => {
  it("shows the amount as 円 and a known error code in Japanese", async () => {
    const { mock } = await renderWallet({ systemLanguage: "ja" });
    mock.simulateCharge("ローソン", 60_000);
    await screen.findByTestId("confirm-sheet");
    expect(screen.getByTestId("confirm-amount").textContent).toBe("60,000円");
    expect(screen.getByTestId("approve").textContent).toBe("パスキーで承認");
    mock.failNext("approve", { code: "limit_exceeded", message: "this payment is above your per-payment limit of ¥50,000" });
    fireEvent.click(screen.getByTestId("approve"));
    const error = await screen.findByTestId("confirm-error");
    expect(error.textContent).toContain("利用上限を超えるため支払えません");
    expect(error.textContent).not.toContain("per-payment limit");
    expect(mock.currentBalance).toBe(18_720);
  });
});
