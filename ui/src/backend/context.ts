// The Backend the screens use, given once at the top of the window.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Backend } from "./index";

export const BackendContext = createContext<Backend | null>(null);

export function useBackend(): Backend {
  const b = useContext(BackendContext);
  if (!b) throw new Error("no Backend given: render inside <App backend={...}>");
  return b;
}
