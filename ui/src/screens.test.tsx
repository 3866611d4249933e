import { fireEvent, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { limitsView, pendingRaise } from "./backend/mock";
import { renderWallet, tick } from "./test/harness";

const kinds = () => screen.getAllByTestId("activity-item").map((li) => li.getAttribute("data-kind"));

describe("activity", () => {
  it("lists newest first, adds live events at the top, and filters by category", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-activity"));
    await screen.findAllByTestId("activity-item");
    expect(kinds()).toEqual(["charge_succeeded", "top_up_succeeded", "card_added", "device_added", "account_created"]);
    expect(screen.getAllByTestId("activity-item")[0]!.textContent).toContain("Paid ¥1,280 to Lawson Shibuya");

    const join = mock.simulateJoinRequest("Work laptop");
    await waitFor(() => expect(kinds()[0]).toBe("device_join_requested"));
    expect(join.device_fingerprint).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$/);
    expect(screen.getAllByTestId("activity-item")[0]!.textContent).toContain(
      `Work laptop asks to join this wallet (key ${join.device_fingerprint})`,
    );

    fireEvent.click(screen.getByTestId("filter-payment"));
    expect(kinds()).toEqual(["charge_succeeded"]);
    expect(screen.getByTestId("filter-payment").getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(screen.getByTestId("filter-money"));
    expect(kinds()).toEqual(["top_up_succeeded", "card_added"]);
    fireEvent.click(screen.getByTestId("filter-security"));
    expect(kinds()).toEqual(["device_join_requested", "device_added", "account_created"]);
    fireEvent.click(screen.getByTestId("filter-all"));
    expect(kinds()).toHaveLength(6);
  });

  it("tells of Inkan's hold and of its lifting, as security notices, in English and in Japanese", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-activity"));
    await screen.findAllByTestId("activity-item");
    mock.setHeld("identity check");
    await waitFor(() => expect(kinds()[0]).toBe("account_held"));
    const held = screen.getAllByTestId("activity-item")[0]!;
    expect(held.textContent).toContain("Inkan put your account on hold: identity check");
    expect(held.className).toContain("tone-warn");
    mock.setHeld(null);
    await waitFor(() => expect(kinds()[0]).toBe("account_released"));
    expect(screen.getAllByTestId("activity-item")[0]!.textContent).toContain("The hold on your account was lifted");
    fireEvent.click(screen.getByTestId("filter-security"));
    expect(kinds()).toEqual(["account_released", "account_held", "device_added", "account_created"]);

    fireEvent.click(screen.getByTestId("nav-settings"));
    fireEvent.change(await screen.findByTestId("language"), { target: { value: "ja" } });
    fireEvent.click(screen.getByTestId("nav-activity"));
    const items = await screen.findAllByTestId("activity-item");
    expect(items[0]!.textContent).toContain("アカウントの利用停止が解除されました");
    expect(items[1]!.textContent).toContain("Inkan がアカウントの利用を停止しました：identity check");
  });

  it("exports the history and says where and how many", async () => {
    await renderWallet();
    fireEvent.click(screen.getByTestId("nav-activity"));
    fireEvent.click(screen.getByTestId("export-history"));
    const result = await screen.findByTestId("export-result");
    expect(result.textContent).toMatch(/Saved 5 events, checked link by link and against Inkan's signature, to \/home\/demo\/Documents\/Inkan\/inkan-history-\d{8}-\d{6}\.jsonl/);
  });
});

describe("limits", () => {
  const set = (id: string, value: string) => fireEvent.input(screen.getByTestId(id), { target: { value } });

  it("lowers at once", async () => {
    const { mock } = await renderWallet();
    const setLimits = vi.spyOn(mock, "setLimits");
    fireEvent.click(screen.getByTestId("nav-limits"));
    expect((await screen.findByTestId("limit-daily") as HTMLInputElement).value).toBe("100000");
    set("limit-per-charge", "20000");
    set("limit-daily", "30000");
    expect(screen.getByTestId("save-limits").textContent).toBe("Save limits");
    // The backend's answer: the lower limits apply now, and what is left today under them.
    mock.answerNext(
      "setLimits",
      limitsView({ per_charge: 20_000, daily: 30_000, monthly: 300_000, spent_today: 1_280, spent_this_month: 1_280, remaining: 20_000 }),
    );
    fireEvent.click(screen.getByTestId("save-limits"));
    expect((await screen.findByTestId("limits-result")).textContent).toBe("Your new limits apply now.");
    expect(screen.queryByTestId("pending-raise")).toBeNull();
    await waitFor(() => expect(screen.getByText("¥1,280 of ¥30,000")).toBeTruthy());
    expect(setLimits).toHaveBeenCalledWith({ per_charge: 20_000, daily: 30_000, monthly: 300_000 });
    fireEvent.click(screen.getByTestId("nav-pay"));
    await waitFor(() => expect(screen.getByTestId("remaining-today").textContent).toBe("¥20,000"));
  });

  it("raises only after the passkey and 24 hours, counting down", async () => {
    const { mock, clock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-limits"));
    await screen.findByTestId("limit-monthly");
    set("limit-monthly", "500000");
    expect(screen.getByText(/Raising needs your passkey and takes effect after 24 hours/)).toBeTruthy();
    expect(screen.getByTestId("save-limits").textContent).toBe("Request raise with passkey");
    // The backend's answer to a raise: the limits in force stay, and the raise waits 24 hours.
    mock.answerNext("setLimits", (asked, current, now) => ({ ...current, pending: pendingRaise(asked, now, 24 * 3600 * 1000) }));
    fireEvent.click(screen.getByTestId("save-limits"));
    expect((await screen.findByTestId("limits-result")).textContent).toContain("after the 24-hour cooling-off");
    const pending = await screen.findByTestId("pending-raise");
    expect(pending.textContent).toContain("¥500,000 a month");
    expect(pending.textContent).toContain("Applies in 24 h 0 min 0 s");
    // The monthly limit itself is unchanged until then.
    expect(screen.getByText("¥1,280 of ¥300,000")).toBeTruthy();
    // The countdown's one timer is running (effects run after paint).
    await waitFor(() => expect(clock.pending).toBe(1));
    await tick(clock, 61_000);
    expect(screen.getByTestId("pending-raise").textContent).toContain("Applies in 23 h 58 min 59 s");
  });

  it("rejects amounts that are not whole yen without asking the backend", async () => {
    const { mock } = await renderWallet();
    const setLimits = vi.spyOn(mock, "setLimits");
    fireEvent.click(screen.getByTestId("nav-limits"));
    await screen.findByTestId("limit-daily");
    set("limit-daily", "12.5");
    fireEvent.click(screen.getByTestId("save-limits"));
    expect((await screen.findByTestId("error")).textContent).toContain("whole yen");
    expect(setLimits).not.toHaveBeenCalled();
    expect((await mock.status()).limits.daily.minor).toBe(100_000);
  });

  it("shows the backend's error for limits out of order", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-limits"));
    await screen.findByTestId("limit-daily");
    set("limit-per-charge", "90000");
    set("limit-daily", "80000");
    mock.failNext("setLimits", { code: "invalid_input", message: "the per-payment limit cannot be above the daily limit" });
    fireEvent.click(screen.getByTestId("save-limits"));
    const error = await screen.findByTestId("error");
    expect(error.textContent).toContain("cannot be above the daily limit");
    expect(error.getAttribute("data-code")).toBe("invalid_input");
    expect(screen.queryByTestId("limits-result")).toBeNull();
    expect((screen.getByTestId("save-limits") as HTMLButtonElement).disabled).toBe(false);
  });
});

describe("language", () => {
  it("switches between English and Japanese, texts and amount formats, and remembers it", async () => {
    const { mock } = await renderWallet();
    expect(screen.getByTestId("nav-pay").textContent).toBe("Pay");
    expect(screen.getByTestId("balance").textContent).toBe("¥18,720");
    expect(mock.locale).toBe("en");
    fireEvent.click(screen.getByTestId("nav-settings"));
    fireEvent.change(await screen.findByTestId("language"), { target: { value: "ja" } });
    await waitFor(() => expect(screen.getByTestId("nav-pay").textContent).toBe("支払う"));
    expect(document.documentElement.lang).toBe("ja");
    expect(localStorage.getItem("inkan.language")).toBe("ja");
    expect(mock.locale).toBe("ja");
    fireEvent.click(screen.getByTestId("nav-pay"));
    expect((await screen.findByTestId("balance")).textContent).toBe("18,720円");
    fireEvent.click(screen.getByTestId("nav-activity"));
    expect((await screen.findAllByTestId("activity-item"))[0]!.textContent).toContain("Lawson Shibuyaに1,280円を支払いました");
    fireEvent.click(screen.getByTestId("nav-settings"));
    fireEvent.change(screen.getByTestId("language"), { target: { value: "en" } });
    fireEvent.click(screen.getByTestId("nav-pay"));
    expect((await screen.findByTestId("balance")).textContent).toBe("¥18,720");
  });

  it("follows the system language when set to System", async () => {
    await renderWallet({ systemLanguage: "ja-JP" });
    expect(screen.getByTestId("nav-security").textContent).toBe("セキュリティ");
    expect(screen.getByTestId("remaining-today").textContent).toBe("50,000円");
  });

  it("keeps the theme choice", async () => {
    await renderWallet();
    fireEvent.click(screen.getByTestId("nav-settings"));
    fireEvent.change(await screen.findByTestId("theme"), { target: { value: "dark" } });
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe("dark"));
    expect(localStorage.getItem("inkan.theme")).toBe("dark");
  });
});

describe("security", () => {
  it("shows the account ID and devices, approves a waiting device and removes another", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-security"));
    expect((await screen.findByTestId("account-id")).textContent).toBe(mock.profile?.account_id);
    await waitFor(() => expect(screen.getAllByTestId("device-item")).toHaveLength(2));
    const mine = screen.getAllByTestId("device-item").find((d) => d.getAttribute("data-this-device") === "true")!;
    expect(mine.textContent).toContain("This device");
    expect(within(mine).queryByTestId("revoke-device")).toBeNull();
    // Each device with its own passkey.
    expect(within(mine).getByTestId("device-passkey").textContent).toMatch(/^Its passkey: registered .+; it signs in and pays for this device only$/);

    expect(within(screen.getByTestId("joins-list")).queryAllByTestId("approve-join")).toHaveLength(0);
    const join = mock.simulateJoinRequest("Work laptop");
    const approve = await screen.findByTestId("approve-join");
    // Beside the name, the joining device's key, to compare with what that device shows.
    const waiting = screen.getByTestId("join-item");
    expect(waiting.textContent).toContain("Work laptop");
    expect(within(waiting).getByTestId("waiting-fingerprint").textContent).toBe(join.device_fingerprint);
    expect(join.device_fingerprint).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$/);
    expect(waiting.textContent).toContain("Approve only if the other device shows this same key.");
    fireEvent.click(approve);
    await waitFor(() => expect(screen.getAllByTestId("device-item")).toHaveLength(3));
    await waitFor(() => expect(screen.queryByTestId("approve-join")).toBeNull());

    const other = screen.getAllByTestId("device-item").find((d) => d.textContent?.includes("iPhone"))!;
    fireEvent.click(within(other).getByTestId("revoke-device"));
    expect(other.textContent).toContain(
      "Remove “iPhone”? It is signed out at once, its passkey is deleted, and it can no longer pay or see this wallet. You will confirm with your passkey.",
    );
    fireEvent.click(within(other).getByTestId("revoke-confirm"));
    await waitFor(() => expect((screen.getAllByTestId("device-item").find((d) => d.textContent?.includes("iPhone")))!.textContent).toContain("Removed"));
    expect((await mock.devices()).find((d) => d.name === "iPhone")?.active).toBe(false);
    const removed = screen.getAllByTestId("device-item").find((d) => d.textContent?.includes("iPhone"))!;
    await waitFor(() => expect(within(removed).getByTestId("device-passkey").textContent).toBe("No passkey: removed with the device"));
  });

  it("shows a waiting device's key and the join notice with it in Japanese", async () => {
    const { mock } = await renderWallet({ systemLanguage: "ja-JP" });
    fireEvent.click(screen.getByTestId("nav-security"));
    await screen.findByTestId("account-id");
    const join = mock.simulateJoinRequest("仕事用ノート");
    const item = await screen.findByTestId("join-item");
    expect(within(item).getByTestId("waiting-fingerprint").textContent).toBe(join.device_fingerprint);
    expect(item.textContent).toContain("もう一方の端末に同じ鍵が表示されている場合にのみ承認してください。");
    fireEvent.click(screen.getByTestId("nav-activity"));
    expect((await screen.findAllByTestId("activity-item"))[0]!.textContent).toContain(
      `仕事用ノートがこのウォレットへの参加を求めています（鍵 ${join.device_fingerprint}）`,
    );
  });

  it("refuses to remove the wallet's last active device, and says why", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-security"));
    await waitFor(() => expect(screen.getAllByTestId("device-item")).toHaveLength(2));
    // The backend refuses: the iPhone is the wallet's last active device (Rust's rule).
    mock.failNext("revokeDevice", { code: "invalid_state", message: "this is the wallet's last device: add another before removing it" });
    const other = screen.getAllByTestId("device-item").find((d) => d.textContent?.includes("iPhone"))!;
    fireEvent.click(within(other).getByTestId("revoke-device"));
    fireEvent.click(within(other).getByTestId("revoke-confirm"));
    const error = await within(other).findByTestId("error");
    expect(error.getAttribute("data-code")).toBe("invalid_state");
    expect(error.textContent).toContain("This is the wallet's last active device, so it cannot be removed. Add another device first.");
    // The confirmation stays, with the button usable again, and nothing was removed.
    expect(other.textContent).toContain("Remove “iPhone”?");
    expect((within(other).getByTestId("revoke-confirm") as HTMLButtonElement).disabled).toBe(false);
    expect((await mock.devices()).find((d) => d.name === "iPhone")?.active).toBe(true);
  });

  it("shows Inkan's hold with its reason, and nothing to lift it with", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-security"));
    await screen.findByTestId("account-id");
    expect(screen.queryByTestId("held-status")).toBeNull();
    mock.setHeld("identity check");
    const held = await screen.findByTestId("held-status");
    expect(held.textContent).toContain("Your account is on hold");
    expect(held.textContent).toContain("Reason: identity check");
    expect(held.textContent).toContain("You cannot lift the hold yourself: contact Inkan support.");
    expect(within(held).queryByRole("button")).toBeNull();
    mock.setHeld(null);
    await waitFor(() => expect(screen.queryByTestId("held-status")).toBeNull());
  });

  it("signs out and in again", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-security"));
    fireEvent.click(await screen.findByTestId("sign-out"));
    await screen.findByTestId("sign-in");
    expect(mock.signedIn).toBe(false);
    fireEvent.click(screen.getByTestId("nav-pay"));
    expect(await screen.findByTestId("offline-badge")).toBeTruthy();
    fireEvent.click(screen.getByTestId("nav-security"));
    fireEvent.click(await screen.findByTestId("sign-in"));
    await screen.findByTestId("sign-out");
    expect(mock.signedIn).toBe(true);
  });

  it("removes the wallet from this device only after a strong confirmation", async () => {
    const { mock } = await renderWallet();
    fireEvent.click(screen.getByTestId("nav-security"));
    fireEvent.click(await screen.findByTestId("forget"));
    const confirm = screen.getByTestId("forget-confirm") as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    fireEvent.click(confirm);
    expect(mock.profile).not.toBeNull();
    fireEvent.click(screen.getByTestId("forget-understand"));
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    await screen.findByTestId("onboarding");
    expect(mock.profile).toBeNull();
  });
});
