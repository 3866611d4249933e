// Which Backend the window talks to: the real wallet inside the Tauri app, otherwise the mock (the
// browser preview of `npm run dev`). The mock is never chosen inside Tauri.

import type { Backend } from "./index";
import { MockBackend } from "./mock";
import { tauriBackend } from "./tauri";

export function insideTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

export function selectBackend(): { backend: Backend; mock: MockBackend | null } {
  if (insideTauri()) return { backend: tauriBackend, mock: null };
  const params = new URLSearchParams(window.location.search);
  const mock = new MockBackend({
    latencyMs: 350,
    seeded: params.has("demo"),
    autoApproveJoinMs: 6000,
  });
  return { backend: mock, mock };
}
