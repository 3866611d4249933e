// The person's choices of language and theme, kept in localStorage on this device.

import { useEffect, useState } from "preact/hooks";
import type { LangSetting } from "./i18n";

export type ThemeSetting = "system" | "light" | "dark";

const LANG_KEY = "inkan.language";
const THEME_KEY = "inkan.theme";

function read<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
  try {
    const v = globalThis.localStorage?.getItem(key);
    return allowed.includes(v as T) ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

function write(key: string, value: string): void {
  try {
    globalThis.localStorage?.setItem(key, value);
  } catch {
    // Private mode or storage disabled: the choice lasts for this session only.
  }
}

export interface Settings {
  language: LangSetting;
  theme: ThemeSetting;
  setLanguage: (v: LangSetting) => void;
  setTheme: (v: ThemeSetting) => void;
}

export function useSettings(): Settings {
  const [language, setLanguageState] = useState<LangSetting>(() => read(LANG_KEY, ["system", "ja", "en"], "system"));
  const [theme, setThemeState] = useState<ThemeSetting>(() => read(THEME_KEY, ["system", "light", "dark"], "system"));
  useEffect(() => {
    const root = document.documentElement;
    if (theme === "system") delete root.dataset.theme;
    else root.dataset.theme = theme;
  }, [theme]);
  return {
    language,
    theme,
    setLanguage: (v) => {
      write(LANG_KEY, v);
      setLanguageState(v);
    },
    setTheme: (v) => {
      write(THEME_KEY, v);
      setThemeState(v);
    },
  };
}
