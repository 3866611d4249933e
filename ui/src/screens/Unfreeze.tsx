// Lifting a freeze, wherever the app offers it (the Pay screen's frozen banner, Security): this
// device's passkey, with the rule that decides whether it may, or a recovery code, which always
// may and is used up. When the passkey is refused by that rule, the code field opens at once.

import { useEffect, useRef, useState } from "preact/hooks";
import { useBackend } from "../backend/context";
import { useI18n } from "../i18n";
import { useAction } from "../ui/action";
import { Button, ErrorText, Field } from "../ui/bits";
import type { WalletState } from "./Shell";

export function Unfreeze({ wallet }: { wallet: WalletState }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [open, setOpen] = useState(false);
  const [code, setCode] = useState("");
  const [focusCode, setFocusCode] = useState(false);
  const codeInput = useRef<HTMLInputElement>(null);
  const byPasskey = useAction(async () => {
    await backend.unfreeze();
    await wallet.refreshStatus();
  });
  const byCode = useAction(async () => {
    await backend.unfreezeWithRecoveryCode(code);
    await wallet.refreshStatus();
  });

  // The field is focused once it is shown (it is `hidden` until then).
  useEffect(() => {
    if (!focusCode) return;
    codeInput.current?.focus();
    setFocusCode(false);
  }, [focusCode]);

  const withPasskey = async () => {
    byCode.clearError();
    const out = await byPasskey.run();
    // Not this device's to lift: the recovery code is the way, so it is offered right away.
    if (!out.ok && out.error?.code === "unfreeze_not_allowed") {
      setOpen(true);
      setFocusCode(true);
    }
  };

  const withCode = async (e: Event) => {
    e.preventDefault();
    byPasskey.clearError();
    // On success the wallet is no longer frozen, and this whole block goes away with the code.
    await byCode.run();
  };

  return (
    <div class="unfreeze">
      <ErrorText error={byPasskey.error} />
      <Button variant="primary" busy={byPasskey.busy} onClick={withPasskey} aria-describedby="unfreeze-rule" data-testid="unfreeze">
        {t.unfreeze}
      </Button>
      <p class="hint" id="unfreeze-rule" data-testid="unfreeze-rule">
        {t.unfreezeRule}
      </p>
      <div class="disclosure">
        <button
          type="button"
          class="disclosure-toggle"
          aria-expanded={open}
          aria-controls="unfreeze-code-panel"
          data-testid="unfreeze-code-toggle"
          onClick={() => setOpen(!open)}
        >
          <span class="chevron" aria-hidden="true">
            {open ? "▾" : "▸"}
          </span>
          {t.unfreezeUseCode}
        </button>
        <div id="unfreeze-code-panel" hidden={!open} class="disclosure-panel">
          <form class="form" onSubmit={withCode} noValidate>
            <Field id="unfreeze-code" label={t.unfreezeCode} hint={t.unfreezeCodeHint}>
              <input
                id="unfreeze-code"
                ref={codeInput}
                data-testid="unfreeze-code"
                autoComplete="off"
                autoCapitalize="characters"
                spellcheck={false}
                value={code}
                aria-describedby="unfreeze-code-hint"
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            </Field>
            <ErrorText error={byCode.error} />
            <Button type="submit" variant="secondary" busy={byCode.busy} data-testid="unfreeze-with-code">
              {t.unfreezeWithCode}
            </Button>
          </form>
        </div>
      </div>
    </div>
  );
}
