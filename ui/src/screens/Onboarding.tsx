// Setting up: a new wallet (then its recovery codes, shown once), this device joining an existing
// wallet, or freezing a lost one with a recovery code.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Defaults, JoinView } from "../bindings";
import { useBackend } from "../backend/context";
import { useAppEvent } from "../events";
import { useI18n } from "../i18n";
import { useAction } from "../ui/action";
import { Button, ErrorText, Field } from "../ui/bits";
import { RecoveryCodesOnce } from "../ui/RecoveryCodes";
import { Seal } from "../ui/Seal";

type Mode = "create" | "codes" | "join" | "freeze";

interface Props {
  defaults: Defaults;
  /** Keep onboarding on screen (the wallet exists, but its codes are being shown). */
  onHold: (hold: boolean) => void;
  onFinished: () => void;
}

export function Onboarding({ defaults, onHold, onFinished }: Props) {
  const { t } = useI18n();
  const [mode, setMode] = useState<Mode>("create");
  const [server, setServer] = useState(defaults.server);
  const [origin, setOrigin] = useState(defaults.origin);
  const [codes, setCodes] = useState<string[]>([]);

  const serverProps = { server, setServer, origin, setOrigin };

  return (
    <main class="page page-narrow onboarding" data-testid="onboarding">
      <header class="brand">
        <Seal />
        <span class="brand-name">{t.appName}</span>
      </header>
      {mode === "create" && (
        <CreateWallet
          {...serverProps}
          defaults={defaults}
          onHold={onHold}
          onCreated={(c) => {
            setCodes(c);
            setMode("codes");
          }}
          onJoin={() => setMode("join")}
          onFreeze={() => setMode("freeze")}
        />
      )}
      {mode === "codes" && <RecoveryCodes codes={codes} onContinue={onFinished} />}
      {mode === "join" && <JoinWallet {...serverProps} defaults={defaults} onBack={() => setMode("create")} onJoined={onFinished} />}
      {mode === "freeze" && <FreezeLost {...serverProps} onBack={() => setMode("create")} />}
    </main>
  );
}

interface ServerProps {
  server: string;
  setServer: (v: string) => void;
  origin: string;
  setOrigin: (v: string) => void;
}

function ServerFields({ server, setServer, origin, setOrigin, prefix, withOrigin = true }: ServerProps & { prefix: string; withOrigin?: boolean }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const isMain = prefix === "";
  return (
    <>
      <Field id={`${prefix}server`} label={t.server}>
        <input
          id={`${prefix}server`}
          data-testid={isMain ? "server" : `${prefix}server`}
          type="url"
          inputMode="url"
          autoComplete="off"
          spellcheck={false}
          value={server}
          onInput={(e) => setServer(e.currentTarget.value)}
        />
      </Field>
      {withOrigin && (
        <div class="disclosure">
          <button
            type="button"
            class="disclosure-toggle"
            aria-expanded={open}
            aria-controls={`${prefix}advanced-panel`}
            data-testid={isMain ? "advanced" : `${prefix}advanced`}
            onClick={() => setOpen(!open)}
          >
            <span class="chevron" aria-hidden="true">
              {open ? "▾" : "▸"}
            </span>
            {t.advanced}
          </button>
          <div id={`${prefix}advanced-panel`} hidden={!open} class="disclosure-panel">
            <Field id={`${prefix}origin`} label={t.origin} hint={t.originHint}>
              <input
                id={`${prefix}origin`}
                data-testid={isMain ? "origin" : `${prefix}origin`}
                type="url"
                autoComplete="off"
                spellcheck={false}
                value={origin}
                aria-describedby={`${prefix}origin-hint`}
                onInput={(e) => setOrigin(e.currentTarget.value)}
              />
            </Field>
          </div>
        </div>
      )}
    </>
  );
}

function CreateWallet(
  props: ServerProps & {
    defaults: Defaults;
    onHold: (hold: boolean) => void;
    onCreated: (codes: string[]) => void;
    onJoin: () => void;
    onFreeze: () => void;
  },
) {
  const { t } = useI18n();
  const backend = useBackend();
  const [displayName, setDisplayName] = useState("");
  const [deviceName, setDeviceName] = useState(props.defaults.device_name);
  const enroll = useAction(() =>
    backend.enroll({ server: props.server, origin: props.origin, display_name: displayName, device_name: deviceName }),
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    props.onHold(true);
    const out = await enroll.run();
    if (out.ok) props.onCreated(out.value.recovery_codes);
    else props.onHold(false);
  };

  return (
    <section aria-labelledby="create-title">
      <h1 id="create-title">{t.welcomeTitle}</h1>
      <p class="lead">{t.welcomeLead}</p>
      <form class="form" onSubmit={submit} noValidate>
        <Field id="display-name" label={t.displayName} hint={t.displayNameHint}>
          <input
            id="display-name"
            data-testid="display-name"
            autoComplete="name"
            value={displayName}
            aria-describedby="display-name-hint"
            onInput={(e) => setDisplayName(e.currentTarget.value)}
          />
        </Field>
        <Field id="device-name" label={t.deviceName}>
          <input id="device-name" data-testid="device-name" autoComplete="off" value={deviceName} onInput={(e) => setDeviceName(e.currentTarget.value)} />
        </Field>
        <ServerFields {...props} prefix="" />
        <ErrorText error={enroll.error} />
        <Button type="submit" variant="primary" busy={enroll.busy} busyLabel={t.creatingWallet} data-testid="create-wallet">
          {t.createWallet}
        </Button>
      </form>
      <div class="divider" role="presentation">
        <span>{t.orDivider}</span>
      </div>
      <div class="stack">
        <Button variant="ghost" onClick={props.onJoin} data-testid="join-existing">
          {t.joinExisting}
        </Button>
        <Button variant="quiet" onClick={props.onFreeze} data-testid="freeze-lost">
          {t.freezeLost}
        </Button>
      </div>
    </section>
  );
}

function RecoveryCodes({ codes, onContinue }: { codes: string[]; onContinue: () => void }) {
  const { t } = useI18n();
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => title.current?.focus(), []);
  return (
    <section aria-labelledby="codes-title">
      <h1 id="codes-title" tabIndex={-1} ref={title}>
        {t.codesTitle}
      </h1>
      <p class="lead">{t.codesLead}</p>
      <RecoveryCodesOnce
        codes={codes}
        savedLabel={t.savedCodes}
        doneLabel={t.continue}
        onDone={onContinue}
        testids={{ list: "recovery-codes", copy: "copy-codes", saved: "saved-codes", done: "continue" }}
      />
    </section>
  );
}

function JoinWallet(props: ServerProps & { defaults: Defaults; onBack: () => void; onJoined: () => void }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [accountId, setAccountId] = useState("");
  const [deviceName, setDeviceName] = useState(props.defaults.device_name);
  const [code, setCode] = useState("");
  const [waiting, setWaiting] = useState(false);
  const [progress, setProgress] = useState<JoinView | null>(null);
  const join = useAction(() =>
    backend.join({
      server: props.server,
      origin: props.origin,
      account_id: accountId,
      device_name: deviceName,
      recovery_code: code,
    }),
  );

  useAppEvent((e) => {
    if (e.type === "join_progress") setProgress(e.join);
  });

  const submit = async (e: Event) => {
    e.preventDefault();
    setProgress(null);
    setWaiting(code.trim() === "");
    const out = await join.run();
    setWaiting(false);
    if (out.ok) props.onJoined();
  };

  return (
    <section aria-labelledby="join-title">
      <h1 id="join-title">{t.joinTitle}</h1>
      <p class="lead">{t.joinLead}</p>
      {waiting ? (
        <div class="waiting" data-testid="join-waiting" role="status" aria-live="polite">
          <span class="spinner spinner-large" aria-hidden="true" />
          <p class="waiting-title">{t.joinWaiting}</p>
          <p class="hint">{t.joinWaitingHow}</p>
          {progress?.device_fingerprint && (
            <div class="fingerprint-block">
              <p class="fingerprint-row">
                {t.joinFingerprint}{" "}
                <code class="fingerprint fingerprint-large" data-testid="join-fingerprint">
                  {progress.device_fingerprint}
                </code>
              </p>
              <p class="hint hint-strong">{t.joinFingerprintCheck}</p>
            </div>
          )}
          {progress && <p class="hint">{t.joinState(progress.state)}</p>}
        </div>
      ) : (
        <form class="form" onSubmit={submit} noValidate>
          <Field id="join-account-id" label={t.accountId}>
            <input
              id="join-account-id"
              data-testid="join-account-id"
              autoComplete="off"
              spellcheck={false}
              value={accountId}
              onInput={(e) => setAccountId(e.currentTarget.value)}
            />
          </Field>
          <Field id="join-device-name" label={t.deviceName}>
            <input id="join-device-name" data-testid="join-device-name" value={deviceName} onInput={(e) => setDeviceName(e.currentTarget.value)} />
          </Field>
          <Field id="join-recovery-code" label={t.recoveryCode} hint={t.recoveryCodeHint}>
            <input
              id="join-recovery-code"
              data-testid="join-recovery-code"
              autoComplete="off"
              spellcheck={false}
              value={code}
              aria-describedby="join-recovery-code-hint"
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </Field>
          <ServerFields {...props} prefix="join-" />
          <ErrorText error={join.error} />
          <div class="row">
            <Button variant="ghost" onClick={props.onBack} data-testid="back">
              {t.back}
            </Button>
            <Button type="submit" variant="primary" busy={join.busy} busyLabel={t.joining} data-testid="join-submit">
              {t.joinSubmit}
            </Button>
          </div>
        </form>
      )}
    </section>
  );
}

function FreezeLost(props: ServerProps & { onBack: () => void }) {
  const { t } = useI18n();
  const backend = useBackend();
  const [accountId, setAccountId] = useState("");
  const [code, setCode] = useState("");
  const [done, setDone] = useState(false);
  const freeze = useAction(() => backend.freezeWithRecoveryCode({ server: props.server, account_id: accountId, recovery_code: code }));

  const submit = async (e: Event) => {
    e.preventDefault();
    const out = await freeze.run();
    if (out.ok) setDone(true);
  };

  return (
    <section aria-labelledby="freeze-title">
      <h1 id="freeze-title">{t.freezeTitle}</h1>
      <p class="lead">{t.freezeLead}</p>
      {done ? (
        <>
          <p class="callout callout-ok" role="status" data-testid="freeze-done">
            {t.freezeDone}
          </p>
          <Button variant="ghost" onClick={props.onBack} data-testid="back">
            {t.back}
          </Button>
        </>
      ) : (
        <form class="form" onSubmit={submit} noValidate>
          <Field id="freeze-account-id" label={t.accountId}>
            <input
              id="freeze-account-id"
              data-testid="freeze-account-id"
              autoComplete="off"
              spellcheck={false}
              value={accountId}
              onInput={(e) => setAccountId(e.currentTarget.value)}
            />
          </Field>
          <Field id="freeze-recovery-code" label={t.recoveryCodeRequired}>
            <input
              id="freeze-recovery-code"
              data-testid="freeze-recovery-code"
              autoComplete="off"
              spellcheck={false}
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </Field>
          <ServerFields {...props} prefix="freeze-" withOrigin={false} />
          <ErrorText error={freeze.error} />
          <div class="row">
            <Button variant="ghost" onClick={props.onBack} data-testid="back">
              {t.back}
            </Button>
            <Button type="submit" variant="danger" busy={freeze.busy} data-testid="freeze-submit">
              {t.freezeSubmit}
            </Button>
          </div>
        </form>
      )}
    </section>
  );
}
