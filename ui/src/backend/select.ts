// Which Backend the window talks to: the real wallet inside the Tauri app, otherwise the mock (the
// browser preview of `npm run dev`). The mock is never chosen inside Tauri, and a production build
// does not contain it: `import.meta.env.DEV` is `false` there, so Vite drops the branch that loads
// it, and `npm run check-bundle` fails if any of it is left in `dist/`.

import type { Backend } from "./index";
import type { MockBackend } from "./mock";
import { tauriBackend } from "./tauri";

export function insideTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

export async function selectBackend(): Promise<{ backend: Backend; mock: MockBackend | null }> {
  // `import.meta.env.DEV` first: in a production build the whole block is `false && …`, dead code.
  if (import.meta.env.DEV && !insideTauri()) {
    const { MockBackend } = await import("./mock");
    const params = new URLSearchParams(window.location.search);
    const mock = new MockBackend({
      latencyMs: 350,
      seeded: params.has("demo"),
      autoApproveJoinMs: 6000,
    });
    return { backend: mock, mock };
  }
  return { backend: tauriBackend, mock: null };
}
