// Renders the whole window against the mock backend, with a hand-driven clock.

import { act, render, screen, waitFor } from "@testing-library/preact";
import { expect } from "vitest";
import { App } from "../App";
import { MockBackend, type MockOptions } from "../backend/mock";
import { FakeClock } from "./fakeClock";

export interface Harness {
  mock: MockBackend;
  clock: FakeClock;
}

type Options = MockOptions & { systemLanguage?: string; before?: (mock: MockBackend) => void };

export function renderApp(options: Options = {}): Harness {
  const clock = new FakeClock();
  const mock = new MockBackend({ now: () => clock.now(), ...options });
  options.before?.(mock);
  render(<App backend={mock} clock={clock} systemLanguage={options.systemLanguage ?? "en-US"} />);
  return { mock, clock };
}

/** A set-up wallet (¥18,720 after one ¥1,280 payment), on the Pay screen with its code shown. */
export async function renderWallet(options: Options = {}): Promise<Harness> {
  const h = renderApp({ seeded: true, ...options });
  await screen.findByTestId("pay-qr");
  await waitFor(() => expect(screen.getByTestId("balance").textContent).not.toBe("—"));
  return h;
}

/** Lets the backend's promises and the resulting renders settle. */
export async function settle(): Promise<void> {
  await act(async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  });
}

/** Moves the fake clock, inside act so the screen re-renders. */
export async function tick(clock: FakeClock, ms: number): Promise<void> {
  await act(async () => {
    clock.advance(ms);
  });
  await settle();
}
