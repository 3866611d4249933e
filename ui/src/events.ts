// One subscription to the backend's events, shared by every part of the window.

import { createContext } from "preact";
import { useContext, useEffect, useRef } from "preact/hooks";
import type { AppEvent } from "./bindings";

export class EventHub {
  private handlers = new Set<(e: AppEvent) => void>();
  emit(e: AppEvent): void {
    for (const h of [...this.handlers]) h(e);
  }
  subscribe(h: (e: AppEvent) => void): () => void {
    this.handlers.add(h);
    return () => {
      this.handlers.delete(h);
    };
  }
}

export const EventsContext = createContext<EventHub>(new EventHub());

/** Calls `handler` (its latest version) for every event while the component is shown. */
export function useAppEvent(handler: (e: AppEvent) => void): void {
  const hub = useContext(EventsContext);
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => hub.subscribe((e) => ref.current(e)), [hub]);
}
