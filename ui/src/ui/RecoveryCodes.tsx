// Recovery codes on screen, the one time they are: after creating a wallet (onboarding) and after
// making new ones (Security). Nothing keeps them: once the person says they are saved and goes
// on, they are gone from the app.

import { useState } from "preact/hooks";
import { useI18n } from "../i18n";
import { Button, CopyButton } from "./bits";

interface TestIds {
  list: string;
  copy: string;
  saved: string;
  done: string;
}

/** The codes, a copy button, and "I have saved them", which unlocks the button that goes on. */
export function RecoveryCodesOnce({
  codes,
  savedLabel,
  doneLabel,
  onDone,
  testids,
}: {
  codes: string[];
  savedLabel: string;
  doneLabel: string;
  onDone: () => void;
  testids: TestIds;
}) {
  const { t } = useI18n();
  const [saved, setSaved] = useState(false);
  return (
    <>
      <p class="callout callout-warn">
        <strong>{t.codesOnce}</strong>
      </p>
      <ol class="codes" data-testid={testids.list}>
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <CopyButton text={codes.join("\n")} label={t.copyCodes} testid={testids.copy} />
      <label class="check">
        <input type="checkbox" data-testid={testids.saved} checked={saved} onChange={(e) => setSaved(e.currentTarget.checked)} />
        <span>{savedLabel}</span>
      </label>
      <Button variant="primary" disabled={!saved} onClick={onDone} data-testid={testids.done}>
        {doneLabel}
      </Button>
    </>
  );
}
