// Browser preview only (the mock backend): buttons that play the other side — a shop charging, the
// connection dropping, another device asking to join, the operator holding the account — and that
// script what the backend answers next (a refusal, a raise left waiting), since the mock decides
// nothing itself. Never shown inside the app, and loaded only in development (`main.tsx`): a
// production build leaves it and its styles out.

import { useState } from "preact/hooks";
import type { AppError } from "./bindings";
import { CHALLENGE_CARD, DECLINED_CARD, pendingRaise, type MockBackend, type MockMethod } from "./backend/mock";
import "./DemoControls.css";

const DAY_MS = 24 * 60 * 60 * 1000;
const spaced = (number: string) => number.replace(/(\d{4})(?=\d)/g, "$1 ");

/** Refusals the demo can script, each as the Rust side words it. */
const refusals: { label: string; method: MockMethod; error: AppError }[] = [
  {
    label: "Next unfreeze by passkey: refused, this device is too new",
    method: "unfreeze",
    error: {
      code: "unfreeze_not_allowed",
      message:
        "this device joined the wallet less than 72 hours ago: unfreeze with a recovery code, or from a device that has been in the wallet longer",
    },
  },
  {
    label: "Next recovery code: wrong",
    method: "unfreezeWithRecoveryCode",
    error: { code: "unauthorized", message: "that recovery code is not valid for this wallet" },
  },
  {
    label: "Next card code: wrong, one try left",
    method: "verifyCard",
    error: { code: "card_declined", message: "the card's code was not right: one more wrong try locks cards", tries_left: 1 },
  },
  {
    label: "Next limits: refused, out of order",
    method: "setLimits",
    error: { code: "invalid_input", message: "the per-payment limit cannot be above the daily limit" },
  },
  {
    label: "Next call: server unreachable",
    method: "status",
    error: { code: "unreachable", message: "could not reach https://demo.inkan.invalid: connection refused" },
  },
];

export function DemoControls({ mock }: { mock: MockBackend }) {
  const [open, setOpen] = useState(false);
  const [online, setOnline] = useState(true);
  const [held, setHeld] = useState(mock.heldReason !== null);
  const [note, setNote] = useState("");
  const act = (fn: () => void, done = "") => {
    try {
      fn();
      setNote(done);
    } catch (e) {
      setNote((e as { message?: string }).message ?? String(e));
    }
  };
  const overLimit = () => {
    const charge = mock.simulateCharge("FamilyMart Ebisu", 64_000);
    mock.failNext("approve", { code: "limit_exceeded", message: "this payment is above your per-payment limit of ¥50,000" });
    return charge;
  };
  return (
    <aside class="demo" aria-label="Demo controls (mock backend)">
      <button type="button" class="demo-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        Demo
      </button>
      {open && (
        <div class="demo-panel">
          <p class="demo-title">Mock backend — not a real wallet</p>
          <button type="button" onClick={() => act(() => mock.simulateCharge("Lawson Shibuya", 1280))}>
            Charge ¥1,280 (Lawson)
          </button>
          <button type="button" onClick={() => act(overLimit, "Its approval will be refused: limit_exceeded.")}>
            Charge ¥64,000, refused: over the limit
          </button>
          <button
            type="button"
            onClick={() => {
              mock.setOnline(!online);
              setOnline(!online);
            }}
          >
            {online ? "Go offline" : "Go online"}
          </button>
          <button type="button" onClick={() => act(() => mock.simulateJoinRequest("Work laptop"))}>
            Another device asks to join
          </button>
          <button
            type="button"
            onClick={() => {
              mock.setHeld(held ? null : "unusual activity is being checked");
              setHeld(!held);
            }}
          >
            {held ? "Inkan lifts the hold" : "Inkan holds the account"}
          </button>
          <button
            type="button"
            onClick={() =>
              act(
                () => mock.answerNext("setLimits", (asked, current, now) => ({ ...current, pending: pendingRaise(asked, now, DAY_MS) })),
                "The next limits saved wait 24 hours, as a raise does.",
              )
            }
          >
            Next limits: wait 24 h (a raise)
          </button>
          {refusals.map((r) => (
            <button key={r.label} type="button" onClick={() => act(() => mock.failNext(r.method, r.error), `Scripted: ${r.method} fails with ${r.error.code}.`)}>
              {r.label}
            </button>
          ))}
          <p class="demo-note">
            The mock decides nothing: the buttons above script its next refusal. Cards: {spaced(CHALLENGE_CARD)} asks for a
            challenge code (any code), {spaced(DECLINED_CARD)} is declined. Joining: any account ID; with a recovery code at once,
            without one approved after a few seconds.
          </p>
          {note && <p class="demo-note" role="alert">{note}</p>}
        </div>
      )}
    </aside>
  );
}
