// One async action of a screen: its busy flag and its error, shown next to the button that
// started it. The button stays usable again after a failure.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { AppError } from "../bindings";
import { toAppError } from "../errors";

/** `error` is `null` when the action did not run, because it was already under way. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: AppError | null };

export interface Action<A extends unknown[], T> {
  busy: boolean;
  error: AppError | null;
  run: (...args: A) => Promise<Outcome<T>>;
  clearError: () => void;
}

export function useAction<A extends unknown[], T>(fn: (...args: A) => Promise<T>): Action<A, T> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const mounted = useRef(true);
  const inFlight = useRef(false);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(async (...args: A): Promise<Outcome<T>> => {
    if (inFlight.current) return { ok: false, error: null };
    inFlight.current = true;
    setBusy(true);
    setError(null);
    try {
      const value = await fnRef.current(...args);
      return { ok: true, value };
    } catch (e) {
      const err = toAppError(e);
      if (mounted.current) setError(err);
      return { ok: false, error: err };
    } finally {
      inFlight.current = false;
      if (mounted.current) setBusy(false);
    }
  }, []);
  const clearError = useCallback(() => setError(null), []);
  return { busy, error, run, clearError };
}
