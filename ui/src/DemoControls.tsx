// Browser preview only (the mock backend): buttons that play the other side — a shop charging,
// the connection dropping, another device asking to join, the operator holding the account, time
// passing for this device (so that its passkey may unfreeze). Never shown inside the app, and loaded
// only in development (`main.tsx`): a production build leaves it and its styles out.

import { useState } from "preact/hooks";
import type { MockBackend } from "./backend/mock";
import "./DemoControls.css";

export function DemoControls({ mock }: { mock: MockBackend }) {
  const [open, setOpen] = useState(false);
  const [online, setOnline] = useState(true);
  const [held, setHeld] = useState(mock.heldReason !== null);
  const [note, setNote] = useState("");
  const act = (fn: () => void) => {
    try {
      fn();
      setNote("");
    } catch (e) {
      setNote((e as { message?: string }).message ?? String(e));
    }
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
          <button type="button" onClick={() => act(() => mock.simulateCharge("FamilyMart Ebisu", 64_000))}>
            Charge ¥64,000 (over limit)
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
          <button type="button" onClick={() => act(() => mock.simulateDeviceAge(96))}>
            This device joined 4 days ago
          </button>
          <p class="demo-note">
            Card with challenge: 4000 0000 0000 3220, code 123456. Join: account acc_demo, code DEMO-CODE-0001.
            {mock.validRecoveryCodes[0] && ` This wallet's recovery code: ${mock.validRecoveryCodes[0]}.`}
          </p>
          {note && <p class="demo-note" role="alert">{note}</p>}
        </div>
      )}
    </aside>
  );
}
