import { fireEvent, render, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it } from "vitest";
import { App } from "./App";
import { DemoControls } from "./DemoControls";
import { MockBackend } from "./backend/mock";
import { FakeClock } from "./test/fakeClock";

/** The browser preview: the window and the demo panel on one seeded mock, as `npm run dev?demo`. */
async function preview(): Promise<{ mock: MockBackend; panel: HTMLElement }> {
  const clock = new FakeClock();
  const mock = new MockBackend({ seeded: true, now: () => clock.now() });
  render(
    <>
      <App backend={mock} clock={clock} systemLanguage="en-US" />
      <DemoControls mock={mock} />
    </>,
  );
  await screen.findByTestId("pay-qr");
  const panel = screen.getByRole("complementary", { name: "Demo controls (mock backend)" });
  fireEvent.click(within(panel).getByRole("button", { name: "Demo" }));
  return { mock, panel };
}

describe("demo panel", () => {
  it("plays a shop's charge whose approval the backend refuses", async () => {
    const { mock, panel } = await preview();
    fireEvent.click(within(panel).getByRole("button", { name: "Charge ¥64,000, refused: over the limit" }));
    expect(within(panel).getByRole("alert").textContent).toContain("limit_exceeded");
    await screen.findByTestId("confirm-sheet");
    fireEvent.click(screen.getByTestId("approve"));
    expect((await screen.findByTestId("confirm-error")).textContent).toContain("above your per-payment limit");
    expect(mock.currentBalance).toBe(18_720);
  });

  it("scripts the passkey's refusal to unfreeze, and a raise left waiting", async () => {
    const { panel } = await preview();
    fireEvent.click(within(panel).getByRole("button", { name: "Next unfreeze by passkey: refused, this device is too new" }));
    fireEvent.click(screen.getByTestId("nav-security"));
    fireEvent.click(await screen.findByTestId("freeze"));
    fireEvent.click(await screen.findByTestId("unfreeze"));
    expect((await screen.findByTestId("error")).getAttribute("data-code")).toBe("unfreeze_not_allowed");

    fireEvent.click(within(panel).getByRole("button", { name: "Next limits: wait 24 h (a raise)" }));
    fireEvent.click(screen.getByTestId("nav-limits"));
    fireEvent.input(await screen.findByTestId("limit-monthly"), { target: { value: "500000" } });
    fireEvent.click(screen.getByTestId("save-limits"));
    const pending = await screen.findByTestId("pending-raise");
    expect(pending.textContent).toContain("¥500,000 a month");
    await waitFor(() => expect(screen.getByText("¥1,280 of ¥300,000")).toBeTruthy());
  });
});
