// Everything that happened to the wallet, newest first, live; filtered by kind; exportable as the
// verifiable history.

import { useState } from "preact/hooks";
import type { ActivityItem, AppError, Category, ExportView } from "../bindings";
import { useBackend } from "../backend/context";
import { formatDateTime, noticeText, useI18n, type Dict } from "../i18n";
import { useAction } from "../ui/action";
import { Button, ErrorText } from "../ui/bits";

type Filter = "all" | Category;

const FILTERS: { id: Filter; label: (t: Dict) => string }[] = [
  { id: "all", label: (t) => t.filterAll },
  { id: "payment", label: (t) => t.filterPayment },
  { id: "money", label: (t) => t.filterMoney },
  { id: "security", label: (t) => t.filterSecurity },
];

const ICONS: Record<Category, string> = {
  payment: "M3 7h18v10H3zM3 10h18",
  money: "M12 4v16M5 11l7-7 7 7",
  security: "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z",
};

function tone(item: ActivityItem): string {
  switch (item.notice.kind) {
    case "charge_declined":
    case "charge_expired":
    case "top_up_failed":
    case "payout_failed":
    case "wallet_frozen":
    case "account_held":
    case "device_revoked":
    // Someone may be trying a code or a passkey that is not (or no longer) theirs.
    case "recovery_code_rejected":
    case "passkey_rejected":
      return "warn";
    case "charge_succeeded":
      return "out";
    case "charge_refunded":
    case "top_up_succeeded":
      return "in";
    default:
      return "neutral";
  }
}

export function ActivityScreen({ items, loadError, deviceId }: { items: ActivityItem[] | null; loadError: AppError | null; deviceId: string }) {
  const { t, lang } = useI18n();
  const backend = useBackend();
  const [filter, setFilter] = useState<Filter>("all");
  const [exported, setExported] = useState<ExportView | null>(null);
  const exporter = useAction(() => backend.exportHistory());
  const shown = (items ?? []).filter((i) => filter === "all" || i.category === filter);

  const doExport = async () => {
    setExported(null);
    const out = await exporter.run();
    if (out.ok) setExported(out.value);
  };

  return (
    <section aria-labelledby="activity-title">
      <div class="page-head">
        <h1 id="activity-title">{t.activityTitle}</h1>
        <Button variant="quiet" class="btn-small" busy={exporter.busy} onClick={doExport} data-testid="export-history">
          {t.exportHistory}
        </Button>
      </div>
      <ErrorText error={exporter.error} />
      {exported && (
        <p class="callout callout-ok" role="status" data-testid="export-result">
          {t.exported(exported.events, exported.path)}
        </p>
      )}
      <div class="chips" role="group" aria-label={t.filtersLabel}>
        {FILTERS.map((f) => (
          <button
            key={f.id}
            type="button"
            class="chip"
            aria-pressed={filter === f.id}
            onClick={() => setFilter(f.id)}
            data-testid={`filter-${f.id}`}
          >
            {f.label(t)}
          </button>
        ))}
      </div>
      <ErrorText error={loadError} />
      {items === null && !loadError && <p class="hint">{t.loading}</p>}
      <ul class="activity" data-testid="activity-list" aria-live="polite" aria-relevant="additions">
        {shown.map((item) => (
          <li key={item.seq} class={`activity-item tone-${tone(item)}`} data-testid="activity-item" data-kind={item.notice.kind}>
            <span class={`activity-icon cat-${item.category}`} aria-hidden="true">
              <svg viewBox="0 0 24 24">
                <path d={ICONS[item.category]} />
              </svg>
            </span>
            <span class="activity-body">
              <span class="activity-text">{noticeText(item.notice, item.amount, lang, deviceId)}</span>
              <time class="activity-time" dateTime={item.at}>
                {formatDateTime(item.at, lang)}
              </time>
            </span>
          </li>
        ))}
      </ul>
      {items !== null && shown.length === 0 && <p class="empty">{t.noActivity}</p>}
    </section>
  );
}
