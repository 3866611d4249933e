// The window: language, theme, the event subscription, and which part to show — the problem,
// the onboarding, or the wallet.

import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import type { AppError, AppSnapshot } from "./bindings";
import { BackendContext } from "./backend/context";
import type { Backend } from "./backend/index";
import { ClockContext, systemClock, type Clock } from "./clock";
import { toAppError } from "./errors";
import { EventHub, EventsContext } from "./events";
import { dictionaries, I18nContext, resolveLang } from "./i18n";
import { Onboarding } from "./screens/Onboarding";
import { ProblemScreen } from "./screens/Problem";
import { Shell } from "./screens/Shell";
import { useSettings } from "./settings";
import { Seal } from "./ui/Seal";

export interface AppProps {
  backend: Backend;
  clock?: Clock;
  /** The system's language (`navigator.language`), for the "System" choice. */
  systemLanguage?: string;
}

export function App({ backend, clock = systemClock, systemLanguage }: AppProps) {
  const settings = useSettings();
  const [navigatorLang, setNavigatorLang] = useState(() => (typeof navigator !== "undefined" ? navigator.language : "en"));
  useEffect(() => {
    const changed = () => setNavigatorLang(navigator.language);
    window.addEventListener("languagechange", changed);
    return () => window.removeEventListener("languagechange", changed);
  }, []);
  const sysLang = systemLanguage ?? navigatorLang;
  const lang = resolveLang(settings.language, sysLang);
  const i18n = useMemo(() => ({ lang, t: dictionaries[lang] }), [lang]);
  const hub = useMemo(() => new EventHub(), []);
  const [snapshot, setSnapshot] = useState<AppSnapshot | null>(null);
  const [loadError, setLoadError] = useState<AppError | null>(null);
  const [retrying, setRetrying] = useState(false);
  // While the recovery codes are on screen, the wallet exists but onboarding is not finished.
  const [holdOnboarding, setHoldOnboarding] = useState(false);

  useEffect(() => {
    document.documentElement.lang = lang;
    backend.setLocale(lang).catch(() => undefined);
  }, [backend, lang]);

  const load = useCallback(async () => {
    try {
      const snap = await backend.snapshot();
      setSnapshot(snap);
      setLoadError(null);
    } catch (e) {
      setLoadError(toAppError(e));
    }
  }, [backend]);

  useEffect(() => {
    let unsubscribe: (() => void) | null = null;
    let gone = false;
    const off = hub.subscribe((e) => {
      if (e.type === "profile_changed") void load();
      // Kept here, where events are always heard: the connection may come up while onboarding
      // still shows the recovery codes, before the Pay screen exists to hear it.
      if (e.type === "connection") setSnapshot((s) => (s ? { ...s, online: e.online } : s));
    });
    backend
      .onEvent((e) => hub.emit(e))
      .then((u) => {
        if (gone) u();
        else unsubscribe = u;
      })
      .catch(() => undefined)
      .finally(() => {
        if (!gone) void load();
      });
    return () => {
      gone = true;
      off();
      unsubscribe?.();
    };
  }, [backend, hub, load]);

  const retry = async () => {
    setRetrying(true);
    try {
      setSnapshot(await backend.reopen());
      setLoadError(null);
    } catch (e) {
      setLoadError(toAppError(e));
    }
    setRetrying(false);
  };

  let content;
  if (loadError || snapshot?.problem) {
    content = <ProblemScreen problem={(loadError ?? snapshot?.problem) as AppError} retrying={retrying} onRetry={retry} />;
  } else if (!snapshot) {
    content = (
      <div class="splash" role="status">
        <Seal size={64} />
        <span class="visually-hidden">{i18n.t.loading}</span>
      </div>
    );
  } else if (!snapshot.profile || holdOnboarding) {
    content = (
      <Onboarding
        defaults={snapshot.defaults}
        onHold={setHoldOnboarding}
        onFinished={() => {
          setHoldOnboarding(false);
          void load();
        }}
      />
    );
  } else {
    content = <Shell profile={snapshot.profile} initiallyOnline={snapshot.online} settings={settings} />;
  }

  return (
    <BackendContext.Provider value={backend}>
      <ClockContext.Provider value={clock}>
        <I18nContext.Provider value={i18n}>
          <EventsContext.Provider value={hub}>{content}</EventsContext.Provider>
        </I18nContext.Provider>
      </ClockContext.Provider>
    </BackendContext.Provider>
  );
}
