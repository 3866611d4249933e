// A modal sheet: focus moves into it, Tab stays inside, and focus goes back where it was when it
// closes. Escape calls `onEscape` only if one is given (the Confirm sheet gives none: Escape never
// answers a payment).

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function focusableIn(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => !el.hasAttribute("inert"));
}

interface SheetProps {
  labelledBy: string;
  describedBy?: string;
  testid: string;
  onEscape?: () => void;
  /** `alertdialog` for a question that must be answered. */
  role?: "dialog" | "alertdialog";
  children: ComponentChildren;
}

export function Sheet({ labelledBy, describedBy, testid, onEscape, role = "dialog", children }: SheetProps) {
  const ref = useRef<HTMLDivElement>(null);
  const escape = useRef(onEscape);
  escape.current = onEscape;

  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    // The sheet itself takes focus (its title is read out); no button is pre-selected, so a
    // stray Enter cannot approve anything.
    ref.current?.focus();
    return () => {
      if (before && document.contains(before)) before.focus();
    };
  }, []);

  const onKeyDown = (e: KeyboardEvent) => {
    const root = ref.current;
    if (!root) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      escape.current?.();
      return;
    }
    if (e.key !== "Tab") return;
    const items = focusableIn(root);
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) {
      e.preventDefault();
      root.focus();
      return;
    }
    const active = document.activeElement;
    if (e.shiftKey && (active === first || active === root)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || !root.contains(active))) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <div class="sheet-backdrop">
      <div
        ref={ref}
        class="sheet"
        role={role}
        aria-modal="true"
        aria-labelledby={labelledBy}
        aria-describedby={describedBy}
        tabIndex={-1}
        data-testid={testid}
        onKeyDown={onKeyDown}
      >
        {children}
      </div>
    </div>
  );
}
