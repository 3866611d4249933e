// Adding money from a card: choose a verified card, or add one (the card issuer may ask for a
// 6-digit challenge code, 3-D Secure style), then the amount.

import { useEffect, useState } from "preact/hooks";
import type { AppError, CardView, TopUpView } from "../bindings";
import { useBackend } from "../backend/context";
import { toAppError } from "../errors";
import { amountText, useI18n } from "../i18n";
import { useAction } from "../ui/action";
import { Button, ErrorText, Field } from "../ui/bits";
import { Sheet } from "../ui/Sheet";

/** A whole, positive number typed by a person, or null. */
export function parseWhole(text: string): number | null {
  const clean = text.trim().replace(/[,，\s]/g, "");
  if (!/^\d+$/.test(clean)) return null;
  const n = Number(clean);
  return Number.isSafeInteger(n) ? n : null;
}

export function AddMoneySheet({ onClose, onToppedUp }: { onClose: () => void; onToppedUp: () => void }) {
  const { t, lang } = useI18n();
  const backend = useBackend();
  const [cards, setCards] = useState<CardView[] | null>(null);
  const [loadError, setLoadError] = useState<AppError | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [showForm, setShowForm] = useState(false);
  const [challenge, setChallenge] = useState<CardView | null>(null);
  const [done, setDone] = useState<TopUpView | null>(null);

  useEffect(() => {
    backend
      .cards()
      .then((list) => {
        setCards(list);
        const first = list.find((c) => c.status === "verified");
        setSelected(first?.id ?? null);
        setShowForm(!first);
      })
      .catch((e) => {
        setLoadError(toAppError(e));
        setCards([]);
        setShowForm(true);
      });
  }, [backend]);

  const upsert = (card: CardView) => {
    setCards((list) => {
      const rest = (list ?? []).filter((c) => c.id !== card.id);
      return [...rest, card];
    });
    if (card.status === "verified") {
      setSelected(card.id);
      setChallenge(null);
      setShowForm(false);
    } else if (card.status === "challenge_required") {
      setChallenge(card);
      setShowForm(false);
    }
  };

  const selectedCard = cards?.find((c) => c.id === selected && c.status === "verified") ?? null;

  return (
    <Sheet labelledBy="add-money-title" testid="add-money-sheet" onEscape={onClose}>
      <div class="sheet-head">
        <h2 id="add-money-title">{t.addMoneyTitle}</h2>
        <button type="button" class="icon-btn" aria-label={t.close} onClick={onClose} data-testid="close-sheet">
          ×
        </button>
      </div>
      {done ? (
        <div class="stack">
          <p class={done.pending ? "callout" : "callout callout-ok"} role="status" data-testid="topup-done">
            {done.pending
              ? t.topUpPending(amountText(done.amount, lang))
              : t.topUpDone(amountText(done.amount, lang), amountText(done.balance, lang))}
          </p>
          <Button variant="primary" onClick={onClose} data-testid="topup-close">
            {t.done}
          </Button>
        </div>
      ) : (
        <>
          <ErrorText error={loadError} />
          {cards === null && <p class="hint">{t.loading}</p>}
          {cards && cards.length > 0 && !challenge && (
            <fieldset class="cards">
              <legend>{t.payFrom}</legend>
              {cards.map((c) => (
                <div class="card-row" key={c.id}>
                  <label class="radio">
                    <input
                      type="radio"
                      name="card"
                      value={c.id}
                      disabled={c.status !== "verified"}
                      checked={selected === c.id}
                      onChange={() => setSelected(c.id)}
                      data-testid="card-choice"
                    />
                    <span class="card-name">{t.cardLine(c.brand, c.last4)}</span>
                    <span class={`card-status card-status-${c.status}`}>{t.cardStatus(c.status)}</span>
                  </label>
                  {c.status === "challenge_required" && (
                    <Button variant="quiet" class="btn-small" onClick={() => setChallenge(c)}>
                      {t.verifyThisCard}
                    </Button>
                  )}
                </div>
              ))}
              {!showForm && (
                <Button variant="quiet" onClick={() => setShowForm(true)} data-testid="add-another-card">
                  {t.addAnotherCard}
                </Button>
              )}
            </fieldset>
          )}
          {challenge && <Challenge card={challenge} onVerified={upsert} />}
          {showForm && !challenge && <CardForm onAdded={upsert} />}
          {selectedCard && !challenge && !showForm && <TopUpForm card={selectedCard} onDone={(v) => { setDone(v); onToppedUp(); }} />}
        </>
      )}
    </Sheet>
  );
}

function CardForm({ onAdded }: { onAdded: (card: CardView) => void }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [number, setNumber] = useState("");
  const [month, setMonth] = useState("");
  const [year, setYear] = useState("");
  const [cvc, setCvc] = useState("");
  // A check made here, worded in the shopper's language already: shown as it is.
  const [local, setLocal] = useState<AppError | null>(null);
  const add = useAction((m: number, y: number) => backend.addCard({ number: number.replace(/\s/g, ""), exp_month: m, exp_year: y, cvc: cvc.trim() }));

  const submit = async (e: Event) => {
    e.preventDefault();
    const m = parseWhole(month);
    const y = parseWhole(year);
    // The Rust side reads these as small unsigned integers; anything else is caught here.
    if (m === null || y === null || m < 1 || m > 12 || y < 2000 || y > 2200) {
      setLocal({ code: "invalid_input", message: t.expiryInvalid });
      return;
    }
    setLocal(null);
    const out = await add.run(m, y);
    if (out.ok) onAdded(out.value);
  };

  return (
    <form class="form" onSubmit={submit} noValidate aria-labelledby="new-card-title">
      <h3 id="new-card-title">{t.newCard}</h3>
      <Field id="card-number" label={t.cardNumber}>
        <input
          id="card-number"
          data-testid="card-number"
          inputMode="numeric"
          autoComplete="cc-number"
          placeholder="4000 0000 0000 3220"
          value={number}
          onInput={(e) => setNumber(e.currentTarget.value)}
        />
      </Field>
      <div class="row row-3">
        <Field id="card-exp-month" label={t.expMonth}>
          <input
            id="card-exp-month"
            data-testid="card-exp-month"
            inputMode="numeric"
            autoComplete="cc-exp-month"
            placeholder="MM"
            maxLength={2}
            value={month}
            onInput={(e) => setMonth(e.currentTarget.value)}
          />
        </Field>
        <Field id="card-exp-year" label={t.expYear}>
          <input
            id="card-exp-year"
            data-testid="card-exp-year"
            inputMode="numeric"
            autoComplete="cc-exp-year"
            placeholder="YYYY"
            maxLength={4}
            value={year}
            onInput={(e) => setYear(e.currentTarget.value)}
          />
        </Field>
        <Field id="card-cvc" label={t.cvc}>
          <input
            id="card-cvc"
            data-testid="card-cvc"
            inputMode="numeric"
            autoComplete="cc-csc"
            maxLength={4}
            value={cvc}
            onInput={(e) => setCvc(e.currentTarget.value)}
          />
        </Field>
      </div>
      <p class="hint">{t.cardNeverStored}</p>
      <ErrorText error={local ?? add.error} text={local?.message} />
      <Button type="submit" variant="primary" busy={add.busy} data-testid="add-card">
        {t.addCard}
      </Button>
    </form>
  );
}

function Challenge({ card, onVerified }: { card: CardView; onVerified: (card: CardView) => void }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [code, setCode] = useState("");
  const verify = useAction(() => backend.verifyCard(card.id, code.trim()));
  const submit = async (e: Event) => {
    e.preventDefault();
    const out = await verify.run();
    if (out.ok) onVerified(out.value);
  };
  return (
    <form class="form" onSubmit={submit} noValidate aria-labelledby="challenge-title">
      <h3 id="challenge-title">{t.challengeTitle}</h3>
      <p class="hint">
        {t.cardLine(card.brand, card.last4)} — {t.challengeLead}
      </p>
      <Field id="challenge-code" label={t.challengeCode}>
        <input
          id="challenge-code"
          data-testid="challenge-code"
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={6}
          class="input-code"
          value={code}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </Field>
      <ErrorText error={verify.error} />
      <Button type="submit" variant="primary" busy={verify.busy} data-testid="verify-card">
        {t.verifyCard}
      </Button>
    </form>
  );
}

function TopUpForm({ card, onDone }: { card: CardView; onDone: (v: TopUpView) => void }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [amount, setAmount] = useState("");
  // A check made here, worded in the shopper's language already: shown as it is.
  const [local, setLocal] = useState<AppError | null>(null);
  const topUp = useAction((n: number) => backend.topUp(card.id, n));
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = parseWhole(amount);
    if (n === null || n < 1) {
      setLocal({ code: "invalid_input", message: t.amountInvalid });
      return;
    }
    setLocal(null);
    const out = await topUp.run(n);
    if (out.ok) onDone(out.value);
  };
  return (
    <form class="form" onSubmit={submit} noValidate>
      <Field id="topup-amount" label={t.topUpAmount}>
        <div class="input-affix">
          <input
            id="topup-amount"
            data-testid="topup-amount"
            inputMode="numeric"
            autoComplete="off"
            placeholder="5000"
            value={amount}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
        </div>
      </Field>
      <ErrorText error={local ?? topUp.error} text={local?.message} />
      <Button type="submit" variant="primary" busy={topUp.busy} data-testid="top-up">
        {t.topUp}
      </Button>
    </form>
  );
}
