// Home: the payment code to show at the register, with the balance and what can still be paid
// today. A frozen wallet shows no code (it cannot pay) and offers to unfreeze (`Unfreeze.tsx`). An
// account that Inkan has put on hold shows no code either, and says why: only Inkan can lift a hold.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { AppError, PaymentCodeView } from "../bindings";
import { useBackend } from "../backend/context";
import { useClock } from "../clock";
import { toAppError } from "../errors";
import { useAppEvent } from "../events";
import { amountText, useI18n } from "../i18n";
import { Badge, Button, CopyButton, ErrorText } from "../ui/bits";
import { AddMoneySheet } from "./AddMoney";
import type { WalletState } from "./Shell";
import { Unfreeze } from "./Unfreeze";

export function PayScreen({ wallet }: { wallet: WalletState }) {
  const { t, lang } = useI18n();
  const [adding, setAdding] = useState(false);
  const status = wallet.status;
  const frozen = status?.frozen ?? false;
  const held = status?.held ?? null;

  return (
    <div class="pay">
      <section class="summary" aria-label={t.balance}>
        <div class="summary-item">
          <span class="summary-label">{t.balance}</span>
          <span class="balance" data-testid="balance">
            {status ? amountText(status.balance, lang) : "—"}
          </span>
        </div>
        <div class="summary-item summary-right">
          <span class="summary-label">{t.remainingToday}</span>
          <span class="remaining" data-testid="remaining-today">
            {status ? amountText(status.limits.remaining, lang) : "—"}
          </span>
        </div>
      </section>
      <ErrorText error={wallet.statusError} />

      {!wallet.online && (
        <p class="offline" data-testid="offline-badge" role="status">
          <span class="dot" aria-hidden="true" />
          {t.offline}
        </p>
      )}
      {wallet.signedOut && <p class="hint center">{t.signedOutNote}</p>}

      {held !== null ? (
        <section class="held" data-testid="held-banner" role="alert" aria-labelledby="held-title">
          <svg viewBox="0 0 24 24" class="held-icon" aria-hidden="true">
            <path d="M21 12a9 9 0 11-18 0 9 9 0 0118 0zM10 9v6M14 9v6" />
          </svg>
          <h2 id="held-title">{t.heldTitle}</h2>
          <p>{t.heldText}</p>
          <p data-testid="held-reason">{t.heldReason(held)}</p>
          <p>{t.heldContact}</p>
        </section>
      ) : frozen ? (
        <section class="frozen" data-testid="frozen-banner" role="alert" aria-labelledby="frozen-title">
          <svg viewBox="0 0 24 24" class="frozen-icon" aria-hidden="true">
            <path d="M12 2v20M4.9 6.5l14.2 11M19.1 6.5L4.9 17.5M9 3.5l3 2.5 3-2.5M9 20.5l3-2.5 3 2.5" />
          </svg>
          <h2 id="frozen-title">{t.frozenTitle}</h2>
          <p>{t.frozenText}</p>
          <Unfreeze wallet={wallet} />
        </section>
      ) : status || wallet.statusError ? (
        <PaymentCode />
      ) : null}

      <div class="pay-actions">
        <Button variant="secondary" onClick={() => setAdding(true)} data-testid="add-money">
          <svg viewBox="0 0 24 24" class="btn-icon btn-icon-stroke" aria-hidden="true">
            <path d="M12 5v14M5 12h14" />
          </svg>
          {t.addMoney}
        </Button>
      </div>
      {wallet.profile.insecure_passkey && (
        <footer class="pay-footer">
          <Badge tone="warn" testid="soft-passkey-badge">
            {t.softPasskey}
          </Badge>
        </footer>
      )}
      {adding && <AddMoneySheet onClose={() => setAdding(false)} onToppedUp={() => void wallet.refreshStatus()} />}
    </div>
  );
}

/** The live code: fetched again when `refresh_in_ms` runs out, counted down by one timer. */
function PaymentCode() {
  const { t } = useI18n();
  const backend = useBackend();
  const clock = useClock();
  const [code, setCode] = useState<PaymentCodeView | null>(null);
  const [shownAt, setShownAt] = useState(0);
  const [now, setNow] = useState(() => clock.now());
  const [error, setError] = useState<AppError | null>(null);
  // Whether a code has replaced another: announced in the language shown, even after a switch.
  const [replaced, setReplaced] = useState(false);
  const fetching = useRef(false);
  const mounted = useRef(true);
  const hadCode = useRef(false);

  const fetchCode = useCallback(async () => {
    if (fetching.current) return;
    fetching.current = true;
    try {
      const c = await backend.paymentCode();
      if (!mounted.current) return;
      const at = clock.now();
      if (hadCode.current) setReplaced(true);
      hadCode.current = true;
      setCode(c);
      setShownAt(at);
      setNow(at);
      setError(null);
    } catch (e) {
      if (mounted.current) setError(toAppError(e));
    } finally {
      fetching.current = false;
    }
  }, [backend, clock]);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    void fetchCode();
  }, [fetchCode]);

  useEffect(() => {
    const timer = clock.setInterval(() => setNow(clock.now()), 1000);
    return () => clock.clearInterval(timer);
  }, [clock]);

  // A code a till has used is spent: show a fresh one as soon as a charge arrives or is settled.
  useAppEvent((e) => {
    if (e.type === "charge_pending" || e.type === "charge_settled") void fetchCode();
  });

  const refreshAt = code ? shownAt + code.refresh_in_ms : 0;
  const expiresAt = code ? shownAt + code.expires_in_ms : 0;
  useEffect(() => {
    if (code && now >= refreshAt && !error) void fetchCode();
  }, [code, now, refreshAt, error, fetchCode]);

  // A code past its lifetime is never shown (a new one could not be made).
  const usable = code && now < expiresAt ? code : null;
  const left = code ? Math.max(0, Math.ceil((refreshAt - now) / 1000)) : 0;
  const fraction = code ? Math.max(0, Math.min(1, (refreshAt - now) / code.refresh_in_ms)) : 0;
  const isMock = usable?.text.startsWith("MOCK") ?? false;

  return (
    <section class="code" aria-labelledby="pay-title">
      <h1 id="pay-title" class="pay-title">
        {t.payTitle}
      </h1>
      <div class="qr-frame">
        {usable ? (
          <div
            class="qr"
            data-testid="pay-qr"
            data-code={usable.text}
            role="img"
            aria-label={t.qrLabel}
            // The SVG comes from our own backend (Rust `inkan_qr::render_svg`, or the mock).
            dangerouslySetInnerHTML={{ __html: usable.svg }}
          />
        ) : (
          <div class="qr qr-placeholder" aria-busy={!error}>
            {!error && <span class="spinner spinner-large" aria-hidden="true" />}
            <span class="visually-hidden">{t.gettingCode}</span>
          </div>
        )}
      </div>
      {isMock && <p class="mock-note">{t.qrMockNote}</p>}
      {usable && (
        <>
          <div class="countdown" data-testid="countdown" role="timer" aria-label={t.newCodeIn(left)}>
            <div class="countdown-bar" aria-hidden="true">
              <div class="countdown-fill" style={{ transform: `scaleX(${fraction})` }} />
            </div>
            <span aria-hidden="true">{t.newCodeIn(left)}</span>
          </div>
          <div class="code-text-row">
            <span class="visually-hidden">{t.codeText}</span>
            <code class="code-text" data-testid="code-text">
              {usable.text}
            </code>
            <CopyButton text={usable.text} />
          </div>
        </>
      )}
      <p class="visually-hidden" aria-live="polite">
        {replaced ? t.newCodeShown : ""}
      </p>
      {error && (
        <div class="code-error">
          <ErrorText error={error} />
          <Button variant="secondary" onClick={() => void fetchCode()} data-testid="retry-code">
            {t.retry}
          </Button>
        </div>
      )}
    </section>
  );
}
