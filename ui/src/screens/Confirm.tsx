// "Pay ¥1,280 to FamilyMart?": the sheet that answers one waiting charge. It opens by itself,
// closes when the charge is answered (here or on another device) or expires. Escape does nothing:
// a payment is answered only by a button.

import { useEffect } from "preact/hooks";
import type { ChargeView } from "../bindings";
import { useBackend } from "../backend/context";
import { amountText, formatTime, useI18n } from "../i18n";
import { useAction } from "../ui/action";
import { Button, ErrorText } from "../ui/bits";
import { Sheet } from "../ui/Sheet";

interface Props {
  charge: ChargeView;
  /** The charge was settled elsewhere (or expired) while this sheet was open. */
  settled: string | null;
  /** How many more charges wait after this one. */
  waiting: number;
  onClose: () => void;
  /** Called after this sheet answered (the balance, limits or frozen state changed). */
  onAnswered: () => void;
}

export function ConfirmSheet({ charge, settled, waiting, onClose, onAnswered }: Props) {
  const { t, lang } = useI18n();
  const backend = useBackend();
  const approve = useAction(() => backend.approve(charge.id));
  const decline = useAction((notMe: boolean) => backend.decline(charge.id, notMe));
  const busy = approve.busy || decline.busy;
  const error = approve.error ?? decline.error;

  // Settled elsewhere: close, unless an error of ours is on screen (then the person reads it first).
  useEffect(() => {
    if (settled && !busy && !error) onClose();
  }, [settled, busy, error, onClose]);

  const onApprove = async () => {
    decline.clearError();
    const out = await approve.run();
    if (out.ok) {
      onAnswered();
      onClose();
    }
  };
  const onDecline = async (notMe: boolean) => {
    approve.clearError();
    const out = await decline.run(notMe);
    if (out.ok) {
      onAnswered();
      onClose();
    }
  };

  return (
    <Sheet labelledBy="confirm-title" describedBy="confirm-summary" testid="confirm-sheet" role="alertdialog">
      <div class="sheet-grip" aria-hidden="true" />
      <p class="eyebrow" id="confirm-title">
        {t.confirmTitle}
      </p>
      <div id="confirm-summary" class="confirm-summary">
        <p class="confirm-merchant" data-testid="confirm-merchant">
          {charge.merchant_name}
        </p>
        <p class="confirm-amount" data-testid="confirm-amount">
          {amountText(charge.amount, lang)}
        </p>
        {charge.description && <p class="confirm-description">{charge.description}</p>}
        <p class="hint">{t.confirmAt(formatTime(charge.created_at, lang))}</p>
      </div>
      <p class="visually-hidden">{t.confirmQuestion(charge.merchant_name)}</p>
      {error && (
        <div data-testid="confirm-error">
          <ErrorText error={error} />
        </div>
      )}
      {settled && error ? (
        <Button variant="secondary" onClick={onClose} data-testid="confirm-close">
          {t.close}
        </Button>
      ) : (
        <div class="confirm-actions">
          <Button variant="primary" class="btn-large" busy={approve.busy} busyLabel={t.approving} disabled={busy} onClick={onApprove} data-testid="approve">
            <svg viewBox="0 0 24 24" class="btn-icon" aria-hidden="true">
              <path d="M12 2a5 5 0 00-5 5v3H6a2 2 0 00-2 2v8a2 2 0 002 2h12a2 2 0 002-2v-8a2 2 0 00-2-2h-1V7a5 5 0 00-5-5zm-3 8V7a3 3 0 016 0v3z" />
            </svg>
            {t.approve}
          </Button>
          <Button variant="secondary" busy={decline.busy} disabled={busy} onClick={() => onDecline(false)} data-testid="decline">
            {t.decline}
          </Button>
          <Button variant="danger-quiet" disabled={busy} onClick={() => onDecline(true)} data-testid="not-me">
            {t.notMe}
          </Button>
          <p class="hint">{t.notMeHint}</p>
        </div>
      )}
      {waiting > 0 && <p class="hint queue-note">{t.queued(waiting)}</p>}
    </Sheet>
  );
}
