// Language and theme (kept on this device), and what this wallet is.

import type { ProfileView } from "../bindings";
import type { LangSetting } from "../i18n";
import { useI18n } from "../i18n";
import type { Settings, ThemeSetting } from "../settings";
import { Field } from "../ui/bits";

export function SettingsScreen({ settings, profile }: { settings: Settings; profile: ProfileView }) {
  const { t } = useI18n();
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">{t.settingsTitle}</h1>
      <div class="card-block form">
        <Field id="language" label={t.language}>
          <select
            id="language"
            data-testid="language"
            value={settings.language}
            onChange={(e) => settings.setLanguage(e.currentTarget.value as LangSetting)}
          >
            <option value="system">{t.langSystem}</option>
            <option value="ja" lang="ja">
              日本語
            </option>
            <option value="en" lang="en">
              English
            </option>
          </select>
        </Field>
        <Field id="theme" label={t.theme}>
          <select id="theme" data-testid="theme" value={settings.theme} onChange={(e) => settings.setTheme(e.currentTarget.value as ThemeSetting)}>
            <option value="system">{t.themeSystem}</option>
            <option value="light">{t.themeLight}</option>
            <option value="dark">{t.themeDark}</option>
          </select>
        </Field>
      </div>
      <div class="card-block">
        <h2>{t.aboutTitle}</h2>
        <dl class="facts facts-stacked">
          <div>
            <dt>{t.walletName}</dt>
            <dd>{profile.display_name}</dd>
          </div>
          <div>
            <dt>{t.serverLabel}</dt>
            <dd class="mono">{profile.server}</dd>
          </div>
        </dl>
      </div>
    </section>
  );
}
