// The wallet once set up: what every screen shares (status, connection, activity, charges to
// confirm), the tab bar, and the Confirm sheet above everything.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { ActivityItem, AppError, ChargeView, ProfileView, WalletView } from "../bindings";
import { useBackend } from "../backend/context";
import { useClock } from "../clock";
import { toAppError } from "../errors";
import { useAppEvent } from "../events";
import { useI18n, type Dict } from "../i18n";
import type { Settings } from "../settings";
import { ErrorText } from "../ui/bits";
import { ActivityScreen } from "./Activity";
import { ConfirmSheet } from "./Confirm";
import { LimitsScreen } from "./Limits";
import { PayScreen } from "./Pay";
import { SecurityScreen } from "./Security";
import { SettingsScreen } from "./Settings";

export type Tab = "pay" | "activity" | "limits" | "security" | "settings";

/** What the screens share, kept here so switching tabs loses nothing. */
export interface WalletState {
  profile: ProfileView;
  status: WalletView | null;
  statusError: AppError | null;
  /** `clock.now()` when `status` arrived (for countdowns given as "ms from now"). */
  statusAt: number;
  online: boolean;
  signedOut: boolean;
  refreshStatus: () => Promise<void>;
  setSignedOut: (v: boolean) => void;
}

interface QueuedCharge {
  charge: ChargeView;
  /** Set when the charge was answered elsewhere or expired while its sheet was open. */
  settled: string | null;
}

const TABS: { id: Tab; label: (t: Dict) => string; icon: string }[] = [
  { id: "pay", label: (t) => t.navPay, icon: "M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h2v2h-2zM18 18h2v2h-2zM14 18h2v2h-2zM18 14h2v2h-2z" },
  { id: "activity", label: (t) => t.navActivity, icon: "M4 6h16M4 12h16M4 18h10" },
  { id: "limits", label: (t) => t.navLimits, icon: "M4 20V10M10 20V4M16 20v-7M22 20H2" },
  { id: "security", label: (t) => t.navSecurity, icon: "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z" },
  {
    id: "settings",
    label: (t) => t.navSettings,
    icon: "M12 9a3 3 0 100 6 3 3 0 000-6zM19 12l2-1-1-3-2 .3-1.5-1.5L17 5l-3-1-1 2h-2l-1-2-3 1 .5 2L6 8.5 4 8l-1 3 2 1v0l-2 1 1 3 2-.5L7.5 17 7 19l3 1 1-2h2l1 2 3-1-.5-2 1.5-1.5 2 .5 1-3z",
  },
];

export function Shell({ profile, initiallyOnline, settings }: { profile: ProfileView; initiallyOnline: boolean; settings: Settings }) {
  const { t } = useI18n();
  const backend = useBackend();
  const clock = useClock();
  const [tab, setTab] = useState<Tab>("pay");
  const [status, setStatus] = useState<WalletView | null>(null);
  const [statusAt, setStatusAt] = useState(0);
  const [statusError, setStatusError] = useState<AppError | null>(null);
  const [online, setOnline] = useState(initiallyOnline);
  useEffect(() => setOnline(initiallyOnline), [initiallyOnline]);
  const [signedOut, setSignedOut] = useState(false);
  const [activity, setActivity] = useState<ActivityItem[] | null>(null);
  const [activityError, setActivityError] = useState<AppError | null>(null);
  const [queue, setQueue] = useState<QueuedCharge[]>([]);
  const [joinsVersion, setJoinsVersion] = useState(0);
  const [feedEnded, setFeedEnded] = useState<AppError | null>(null);
  const statusSeq = useRef(0);

  const refreshStatus = useCallback(async () => {
    const mine = ++statusSeq.current;
    try {
      const s = await backend.status();
      if (mine !== statusSeq.current) return;
      setStatus(s);
      setStatusAt(clock.now());
      setStatusError(null);
    } catch (e) {
      if (mine === statusSeq.current) setStatusError(toAppError(e));
    }
  }, [backend, clock]);

  const enqueue = useCallback((charges: ChargeView[]) => {
    setQueue((q) => {
      const next = [...q];
      for (const c of charges) {
        if (c.status === "pending_confirmation" && !next.some((x) => x.charge.id === c.id)) next.push({ charge: c, settled: null });
      }
      return next;
    });
  }, []);

  useAppEvent((e) => {
    switch (e.type) {
      case "activity":
        setActivity((list) => {
          const base = list ?? [];
          if (base.some((x) => x.seq === e.item.seq)) return base;
          return [e.item, ...base].sort((a, b) => b.seq - a.seq);
        });
        if (e.item.notice.kind === "device_join_requested" || e.item.notice.kind === "device_added") {
          setJoinsVersion((v) => v + 1);
        }
        break;
      case "charge_pending":
        enqueue([e.charge]);
        break;
      case "charge_settled":
        setQueue((q) => q.map((x) => (x.charge.id === e.charge_id ? { ...x, settled: e.status } : x)));
        break;
      case "wallet_changed":
        void refreshStatus();
        break;
      case "connection":
        setOnline(e.online);
        if (e.online) setFeedEnded(null);
        break;
      case "feed_ended":
        setOnline(false);
        setFeedEnded(e.error);
        break;
      default:
        break;
    }
  });

  useEffect(() => {
    void refreshStatus();
    backend
      .activity()
      .then((items) =>
        setActivity((live) => {
          const seen = new Set(items.map((i) => i.seq));
          return [...(live ?? []).filter((i) => !seen.has(i.seq)), ...items].sort((a, b) => b.seq - a.seq);
        }),
      )
      .catch((e) => setActivityError(toAppError(e)));
    backend
      .pending()
      .then(enqueue)
      .catch(() => undefined);
  }, [backend, refreshStatus, enqueue]);

  const close = (id: string) => setQueue((q) => q.filter((x) => x.charge.id !== id));
  const head = queue[0];

  const wallet: WalletState = { profile, status, statusError, statusAt, online, signedOut, refreshStatus, setSignedOut };

  return (
    <div class="shell">
      <div class="shell-main" inert={head ? true : undefined} aria-hidden={head ? "true" : undefined}>
        {feedEnded && (
          <div class="banner banner-warn" role="alert">
            <ErrorText error={feedEnded} />
          </div>
        )}
        <main class="page" id="main">
          {tab === "pay" && <PayScreen wallet={wallet} />}
          {tab === "activity" && <ActivityScreen items={activity} loadError={activityError} deviceId={profile.device_id} />}
          {tab === "limits" && <LimitsScreen wallet={wallet} />}
          {tab === "security" && <SecurityScreen wallet={wallet} joinsVersion={joinsVersion} />}
          {tab === "settings" && <SettingsScreen settings={settings} profile={profile} />}
        </main>
        <nav class="tabbar" aria-label={t.appName}>
          {TABS.map((x) => (
            <button
              key={x.id}
              type="button"
              class="tab"
              data-testid={`nav-${x.id}`}
              aria-current={tab === x.id ? "page" : undefined}
              onClick={() => setTab(x.id)}
            >
              <svg viewBox="0 0 24 24" aria-hidden="true" class="tab-icon">
                <path d={x.icon} />
              </svg>
              <span>{x.label(t)}</span>
            </button>
          ))}
        </nav>
      </div>
      {head && (
        <ConfirmSheet
          key={head.charge.id}
          charge={head.charge}
          settled={head.settled}
          waiting={queue.length - 1}
          onClose={() => close(head.charge.id)}
          onAnswered={() => void refreshStatus()}
        />
      )}
    </div>
  );
}
