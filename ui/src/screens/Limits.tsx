// Spending limits: what is used, changing them (lower now; raise with the passkey, after 24 h),
// and a raise waiting out its cooling-off, counted down live.

import { useEffect, useState } from "preact/hooks";
import type { AppError, LimitsView } from "../bindings";
import { useBackend } from "../backend/context";
import { useClock } from "../clock";
import { amountText, formatDateTime, formatDuration, useI18n } from "../i18n";
import { useAction } from "../ui/action";
import { Button, ErrorText, Field, Meter } from "../ui/bits";
import { parseWhole } from "./AddMoney";
import type { WalletState } from "./Shell";

type Key = "per_charge" | "daily" | "monthly";
const KEYS: Key[] = ["per_charge", "daily", "monthly"];

export function LimitsScreen({ wallet }: { wallet: WalletState }) {
  const { t, lang } = useI18n();
  const limits = wallet.status?.limits ?? null;
  return (
    <section aria-labelledby="limits-title">
      <h1 id="limits-title">{t.limitsTitle}</h1>
      <p class="hint">{t.limitsLead}</p>
      <ErrorText error={wallet.statusError} />
      {limits && (
        <>
          <div class="card-block">
            <Meter
              label={t.daily}
              value={limits.spent_today.minor}
              max={limits.daily.minor}
              text={t.spentOf(amountText(limits.spent_today, lang), amountText(limits.daily, lang))}
            />
            <Meter
              label={t.monthly}
              value={limits.spent_this_month.minor}
              max={limits.monthly.minor}
              text={t.spentOf(amountText(limits.spent_this_month, lang), amountText(limits.monthly, lang))}
            />
            <dl class="facts">
              <div>
                <dt>{t.perCharge}</dt>
                <dd>{amountText(limits.per_charge, lang)}</dd>
              </div>
              <div>
                <dt>{t.remainingNow}</dt>
                <dd>{amountText(limits.remaining, lang)}</dd>
              </div>
            </dl>
          </div>
          {limits.pending && <PendingRaise limits={limits} receivedAt={wallet.statusAt} />}
          <LimitsForm limits={limits} onSaved={wallet.refreshStatus} />
        </>
      )}
    </section>
  );
}

function PendingRaise({ limits, receivedAt }: { limits: LimitsView; receivedAt: number }) {
  const { t, lang } = useI18n();
  const clock = useClock();
  const [now, setNow] = useState(() => clock.now());
  useEffect(() => {
    const h = clock.setInterval(() => setNow(clock.now()), 1000);
    return () => clock.clearInterval(h);
  }, [clock]);
  const p = limits.pending;
  if (!p) return null;
  const left = receivedAt + p.effective_in_ms - now;
  return (
    <div class="callout callout-info" data-testid="pending-raise">
      <p>
        <strong>{t.pendingRaise}</strong>
      </p>
      <p>{t.pendingRaiseValues(amountText(p.per_charge, lang), amountText(p.daily, lang), amountText(p.monthly, lang))}</p>
      <p role="timer" aria-live="off">
        {left > 0 ? t.pendingRaiseIn(formatDuration(left, lang)) : t.pendingRaiseDue}{" "}
        <span class="hint">({formatDateTime(p.effective_at, lang)})</span>
      </p>
    </div>
  );
}

function LimitsForm({ limits, onSaved }: { limits: LimitsView; onSaved: () => Promise<void> }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [values, setValues] = useState<Record<Key, string>>({
    per_charge: String(limits.per_charge.minor),
    daily: String(limits.daily.minor),
    monthly: String(limits.monthly.minor),
  });
  // A check made here, worded in the shopper's language already: shown as it is.
  const [local, setLocal] = useState<AppError | null>(null);
  const [result, setResult] = useState<"lowered" | "raise" | null>(null);
  const save = useAction(async (input: Record<Key, number>) => {
    const view = await backend.setLimits(input);
    await onSaved();
    return view;
  });

  const parsed = KEYS.map((k) => parseWhole(values[k]));
  const current: Record<Key, number> = { per_charge: limits.per_charge.minor, daily: limits.daily.minor, monthly: limits.monthly.minor };
  const raises = KEYS.some((k, i) => (parsed[i] ?? 0) > current[k]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    const [per_charge, daily, monthly] = parsed;
    if (per_charge == null || daily == null || monthly == null || per_charge < 1 || daily < 1 || monthly < 1) {
      setLocal({ code: "invalid_input", message: t.needWholeYen });
      return;
    }
    setLocal(null);
    const wasRaise = raises;
    const out = await save.run({ per_charge, daily, monthly });
    if (out.ok) setResult(wasRaise || out.value.pending ? "raise" : "lowered");
  };

  const labels: Record<Key, string> = { per_charge: t.perCharge, daily: t.daily, monthly: t.monthly };
  const ids: Record<Key, string> = { per_charge: "limit-per-charge", daily: "limit-daily", monthly: "limit-monthly" };

  return (
    <form class="form card-block" onSubmit={submit} noValidate aria-labelledby="edit-limits-title">
      <h2 id="edit-limits-title">{t.editLimits}</h2>
      {KEYS.map((k) => (
        <Field key={k} id={ids[k]} label={t.limitYen(labels[k])}>
          <input
            id={ids[k]}
            data-testid={ids[k]}
            inputMode="numeric"
            autoComplete="off"
            value={values[k]}
            onInput={(e) => {
              const v = e.currentTarget.value;
              setValues((old) => ({ ...old, [k]: v }));
              setResult(null);
            }}
          />
        </Field>
      ))}
      <p class={`hint${raises ? " hint-strong" : ""}`}>{raises ? t.raiseNeedsPasskey : t.lowerNow}</p>
      <ErrorText error={local ?? save.error} text={local?.message} />
      {result && (
        <p class="callout callout-ok" role="status" data-testid="limits-result">
          {result === "raise" ? t.raiseRequested : t.limitsLowered}
        </p>
      )}
      <Button type="submit" variant="primary" busy={save.busy} data-testid="save-limits">
        {raises ? t.requestRaise : t.saveLimits}
      </Button>
    </form>
  );
}
