import { fireEvent, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import type { AppError } from "./bindings";
import { renderApp, settle } from "./test/harness";

/** The account ID of the wallet joined or frozen below. */
const ACCOUNT = "acc_demo";
/** How the backend refuses a recovery code that is wrong or used. */
const wrongCode: AppError = { code: "unauthorized", message: "this recovery code is not valid or was already used" };

describe("onboarding", () => {
  it("creates a wallet, gates Continue on the saved-codes checkbox, then shows Pay", async () => {
    const { mock } = renderApp();
    await screen.findByTestId("onboarding");
    // Prefilled from snapshot().defaults.
    expect((screen.getByTestId("server") as HTMLInputElement).value).toBe(mock.defaults.server);
    expect((screen.getByTestId("device-name") as HTMLInputElement).value).toBe(mock.defaults.device_name);
    // The origin lives behind "Advanced" and is fillable once it is opened.
    const origin = screen.getByTestId("origin") as HTMLInputElement;
    expect(origin.closest("[hidden]")).not.toBeNull();
    fireEvent.click(screen.getByTestId("advanced"));
    expect(origin.closest("[hidden]")).toBeNull();
    expect(origin.value).toBe(mock.defaults.origin);
    fireEvent.input(origin, { target: { value: "https://demo.inkan.invalid" } });

    fireEvent.input(screen.getByTestId("display-name"), { target: { value: "Hanako" } });
    fireEvent.click(screen.getByTestId("create-wallet"));

    const list = await screen.findByTestId("recovery-codes");
    const shown = within(list).getAllByRole("listitem").map((li) => li.textContent);
    expect(shown).toEqual(mock.latestRecoveryCodes);
    expect(shown).toHaveLength(8);
    expect(screen.getByText(/never be shown again/)).toBeTruthy();
    // The wallet exists (the backend said profile_changed), but the codes stay until Continue.
    expect(mock.profile?.display_name).toBe("Hanako");
    await settle();
    expect(screen.getByTestId("recovery-codes")).toBeTruthy();

    const cont = screen.getByTestId("continue") as HTMLButtonElement;
    expect(cont.disabled).toBe(true);
    fireEvent.click(cont);
    expect(screen.queryByTestId("pay-qr")).toBeNull();
    fireEvent.click(screen.getByTestId("saved-codes"));
    expect(cont.disabled).toBe(false);
    fireEvent.click(cont);

    await screen.findByTestId("pay-qr");
    expect(screen.queryByTestId("onboarding")).toBeNull();
    expect(screen.getByTestId("soft-passkey-badge").textContent).toContain("demo only");
  });

  it("is online on Pay when the feed connected while the recovery codes were on screen", async () => {
    // With a little latency, as over the app's IPC: the connection event arrives while onboarding
    // still holds the codes, and the snapshot Pay first renders with is older than it.
    const { mock } = renderApp({ latencyMs: 5 });
    await screen.findByTestId("onboarding");
    fireEvent.input(screen.getByTestId("display-name"), { target: { value: "Hanako" } });
    fireEvent.click(screen.getByTestId("create-wallet"));
    await screen.findByTestId("recovery-codes");
    await waitFor(() => expect(mock.online).toBe(true));
    fireEvent.click(screen.getByTestId("saved-codes"));
    fireEvent.click(screen.getByTestId("continue"));
    await screen.findByTestId("pay-qr");
    await waitFor(() => expect(screen.getByTestId("balance").textContent).not.toBe("—"));
    expect(screen.queryByTestId("offline-badge")).toBeNull();
  });

  it("shows the backend's error next to Create wallet and lets the person try again", async () => {
    const { mock } = renderApp();
    const enroll = vi.spyOn(mock, "enroll");
    await screen.findByTestId("onboarding");
    fireEvent.input(screen.getByTestId("server"), { target: { value: "ftp://nope" } });
    fireEvent.input(screen.getByTestId("display-name"), { target: { value: "Hanako" } });
    // The backend refuses the address (Rust checks it).
    mock.failNext("enroll", { code: "invalid_input", message: "the server address must start with https:// (or http:// on this computer)" });
    fireEvent.click(screen.getByTestId("create-wallet"));
    const error = await screen.findByTestId("error");
    expect(error.textContent).toContain("must start with https://");
    expect(error.getAttribute("data-code")).toBe("invalid_input");
    expect(mock.profile).toBeNull();
    const button = screen.getByTestId("create-wallet") as HTMLButtonElement;
    expect(button.disabled).toBe(false);

    fireEvent.input(screen.getByTestId("server"), { target: { value: "https://ok.example" } });
    fireEvent.click(button);
    await screen.findByTestId("recovery-codes");
    expect(screen.queryByTestId("error")).toBeNull();
    expect(enroll.mock.calls.map(([input]) => input.server)).toEqual(["ftp://nope", "https://ok.example"]);
  });

  it("joins an existing wallet, waiting for the other device's approval", async () => {
    const { mock } = renderApp();
    await screen.findByTestId("onboarding");
    fireEvent.click(screen.getByTestId("join-existing"));
    fireEvent.input(screen.getByTestId("join-account-id"), { target: { value: ACCOUNT } });
    fireEvent.input(screen.getByTestId("join-device-name"), { target: { value: "Laptop" } });
    fireEvent.click(screen.getByTestId("join-submit"));
    const waiting = await screen.findByTestId("join-waiting");
    expect(waiting.textContent).toContain("Waiting for approval on your other device");
    await waitFor(() => expect(waiting.textContent).toContain("waiting for approval"));
    expect(screen.queryByTestId("pay-qr")).toBeNull();
    // This device's key, to compare with what the approving device shows.
    const fingerprint = within(waiting).getByTestId("join-fingerprint");
    expect(fingerprint.tagName).toBe("CODE");
    expect(fingerprint.textContent).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$/);
    expect(waiting.textContent).toContain(`This device's key ${fingerprint.textContent}`);
    expect(waiting.textContent).toContain("Check that your other device shows the same key before you approve.");

    mock.answerJoin(true);
    await screen.findByTestId("pay-qr");
    expect(mock.profile?.account_id).toBe(ACCOUNT);
  });

  it("joins at once with a recovery code, and says so plainly when the code is refused", async () => {
    const { mock } = renderApp();
    await screen.findByTestId("onboarding");
    fireEvent.click(screen.getByTestId("join-existing"));
    fireEvent.input(screen.getByTestId("join-account-id"), { target: { value: ACCOUNT } });
    fireEvent.input(screen.getByTestId("join-recovery-code"), { target: { value: "WRONG-CODE" } });
    mock.failNext("join", wrongCode);
    fireEvent.click(screen.getByTestId("join-submit"));
    const error = await screen.findByTestId("error");
    expect(error.textContent).toContain("not valid");
    expect(error.getAttribute("data-code")).toBe("unauthorized");
    expect(screen.queryByTestId("join-waiting")).toBeNull();
    expect(mock.profile).toBeNull();
    fireEvent.input(screen.getByTestId("join-recovery-code"), { target: { value: "DEMO-CODE-0001" } });
    fireEvent.click(screen.getByTestId("join-submit"));
    await screen.findByTestId("pay-qr");
    // Joined at once: no waiting for another device.
    expect(screen.queryByTestId("join-waiting")).toBeNull();
    expect(mock.profile?.account_id).toBe(ACCOUNT);
  });

  it("freezes a lost wallet with a recovery code", async () => {
    const { mock } = renderApp();
    await screen.findByTestId("onboarding");
    fireEvent.click(screen.getByTestId("freeze-lost"));
    fireEvent.input(screen.getByTestId("freeze-account-id"), { target: { value: ACCOUNT } });
    fireEvent.input(screen.getByTestId("freeze-recovery-code"), { target: { value: "nope" } });
    mock.failNext("freezeWithRecoveryCode", wrongCode);
    fireEvent.click(screen.getByTestId("freeze-submit"));
    expect((await screen.findByTestId("error")).textContent).toContain("not valid");
    expect(screen.queryByTestId("freeze-done")).toBeNull();
    fireEvent.input(screen.getByTestId("freeze-recovery-code"), { target: { value: "DEMO-CODE-0002" } });
    fireEvent.click(screen.getByTestId("freeze-submit"));
    expect((await screen.findByTestId("freeze-done")).textContent).toContain("frozen");
  });

  it("shows a keystore problem prominently, with what to do, and retries", async () => {
    const { mock } = renderApp({
      seeded: true,
      before: (m) => {
        m.problem = { code: "keystore", message: "the OS keystore is locked (NoStorageAccess)" };
      },
    });
    const problem = await screen.findByTestId("problem");
    expect(problem.textContent).toContain("keyring is locked");
    expect(screen.getByTestId("error").textContent).toContain("NoStorageAccess");
    expect(screen.queryByTestId("onboarding")).toBeNull();
    mock.problem = null;
    fireEvent.click(screen.getByTestId("retry"));
    await screen.findByTestId("pay-qr");
  });
});
