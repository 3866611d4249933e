// Small pieces every screen uses: buttons with a busy state, error lines, copy buttons, meters.

import type { ComponentChildren, JSX } from "preact";
import { useState } from "preact/hooks";
import type { AppError } from "../bindings";
import { errorText, useI18n } from "../i18n";

type ButtonProps = JSX.HTMLAttributes<HTMLButtonElement> & {
  busy?: boolean;
  busyLabel?: string;
  variant?: "primary" | "secondary" | "danger" | "danger-quiet" | "ghost" | "quiet";
  type?: "button" | "submit";
  disabled?: boolean;
  children: ComponentChildren;
};

export function Button({ busy = false, busyLabel, variant = "secondary", type = "button", disabled, children, class: cls, ...rest }: ButtonProps) {
  const { t } = useI18n();
  return (
    <button
      {...rest}
      type={type}
      class={`btn btn-${variant}${busy ? " is-busy" : ""}${cls ? ` ${String(cls)}` : ""}`}
      disabled={disabled || busy}
      aria-busy={busy ? "true" : undefined}
    >
      {busy ? (
        <>
          <span class="spinner" aria-hidden="true" />
          <span>{busyLabel ?? t.working}</span>
        </>
      ) : (
        children
      )}
    </button>
  );
}

/** An error line: the error's sentence, or `text` where the screen knows better what it means. */
export function ErrorText({ error, testid = "error", id, text }: { error: AppError | null; testid?: string; id?: string; text?: string }) {
  const { t, lang } = useI18n();
  if (!error) return null;
  return (
    <p class="error" role="alert" data-testid={testid} data-code={error.code} id={id}>
      <span class="error-icon" aria-hidden="true">!</span>
      <span>{text ?? (errorText(error, lang) || t.unknownError)}</span>
    </p>
  );
}

/** The clipboard API where the webview allows it, else the old selection copy. */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok: boolean;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

export function CopyButton({ text, label, testid }: { text: string; label?: string; testid?: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    const ok = await copyText(text);
    setCopied(ok);
    if (ok) globalThis.setTimeout(() => setCopied(false), 2000);
  };
  return (
    <button type="button" class="btn btn-quiet btn-small" onClick={copy} data-testid={testid}>
      <span aria-live="polite">{copied ? t.copied : (label ?? t.copy)}</span>
    </button>
  );
}

/** A usage bar: `value` of `max`, with its words beside it. */
export function Meter({ label, value, max, text }: { label: string; value: number; max: number; text: string }) {
  const ratio = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const level = ratio >= 0.9 ? "high" : ratio >= 0.7 ? "mid" : "low";
  return (
    <div class="meter-row">
      <div class="meter-head">
        <span class="meter-label">{label}</span>
        <span class="meter-text">{text}</span>
      </div>
      <div
        class={`meter meter-${level}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={value}
        aria-valuetext={text}
      >
        <div class="meter-fill" style={{ width: `${ratio * 100}%` }} />
      </div>
    </div>
  );
}

export function Badge({ children, tone = "neutral", testid }: { children: ComponentChildren; tone?: "neutral" | "warn" | "danger" | "ok"; testid?: string }) {
  return (
    <span class={`badge badge-${tone}`} data-testid={testid}>
      {children}
    </span>
  );
}

export function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}
