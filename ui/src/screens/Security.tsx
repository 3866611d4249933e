// Who and what can use this wallet: its account ID, an operator's hold, devices, devices asking to
// join, freezing (and unfreezing), recovery codes (and new ones), the session, and removing the
// wallet from this device.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { AppError, ClosedView, DeviceView, JoinView } from "../bindings";
import { useBackend } from "../backend/context";
import { toAppError } from "../errors";
import { amountText, formatDate, formatTime, useI18n } from "../i18n";
import { useAction } from "../ui/action";
import { Badge, Button, CopyButton, ErrorText } from "../ui/bits";
import { RecoveryCodesOnce } from "../ui/RecoveryCodes";
import type { WalletState } from "./Shell";
import { Unfreeze } from "./Unfreeze";

export function SecurityScreen({ wallet, joinsVersion }: { wallet: WalletState; joinsVersion: number }) {
  const { t } = useI18n();
  const { profile } = wallet;
  return (
    <section aria-labelledby="security-title" class="security">
      <h1 id="security-title">{t.securityTitle}</h1>

      <div class="card-block">
        <h2>{t.accountId}</h2>
        <div class="copy-row">
          <code class="mono" data-testid="account-id">
            {profile.account_id}
          </code>
          <CopyButton text={profile.account_id} testid="copy-account-id" />
        </div>
        <p class="hint">{t.accountIdHint}</p>
      </div>

      <HeldBlock wallet={wallet} />
      <FreezeBlock wallet={wallet} />
      <Devices thisDeviceId={profile.device_id} joinsVersion={joinsVersion} />
      <Joins version={joinsVersion} />

      <RecoveryBlock />

      <div class="card-block">
        <h2>{t.passkeyTitle}</h2>
        <p>{profile.passkey}</p>
        {profile.insecure_passkey && (
          <Badge tone="warn" testid="soft-passkey-badge">
            {t.softPasskey}
          </Badge>
        )}
      </div>

      <Session wallet={wallet} />
      <CloseBlock wallet={wallet} />
      <Forget />
    </section>
  );
}

/**
 * Closing the wallet for good: asked twice, confirmed with the passkey; the balance goes back to
 * the first card that topped the wallet up, and the answer says where it went.
 */
function CloseBlock({ wallet }: { wallet: WalletState }) {
  const { t, lang } = useI18n();
  const backend = useBackend();
  const [asking, setAsking] = useState(false);
  const [closed, setClosed] = useState<ClosedView | null>(null);
  const close = useAction(async () => {
    const out = await backend.closeWallet();
    await wallet.refreshStatus();
    return out;
  });
  const doClose = async () => {
    const out = await close.run();
    if (out.ok) {
      setAsking(false);
      setClosed(out.value);
    }
  };
  return (
    <div class="card-block">
      <h2>{t.closeTitle}</h2>
      {closed ? (
        <p class="callout" role="status" data-testid="closed">
          {closed.paid_back && closed.card_last4
            ? closed.pending
              ? t.closedPending(amountText(closed.paid_back, lang), closed.card_last4)
              : t.closedPaid(amountText(closed.paid_back, lang), closed.card_last4)
            : t.closedEmpty}
        </p>
      ) : asking ? (
        <div class="confirm-inline" role="group" aria-labelledby="close-q">
          <p id="close-q">{t.closeExplain}</p>
          <ErrorText error={close.error} />
          <div class="row">
            <Button
              variant="ghost"
              onClick={() => {
                setAsking(false);
                close.clearError();
              }}
              data-testid="close-cancel"
            >
              {t.cancel}
            </Button>
            <Button variant="danger" busy={close.busy} onClick={doClose} data-testid="close-confirm">
              {t.closeYes}
            </Button>
          </div>
        </div>
      ) : (
        <>
          <p class="hint">{t.closeHint}</p>
          <Button variant="secondary" onClick={() => setAsking(true)} data-testid="close-wallet">
            {t.closeWallet}
          </Button>
        </>
      )}
    </div>
  );
}

/** Shown only while Inkan holds the account: unlike a freeze, nothing here can lift it. */
function HeldBlock({ wallet }: { wallet: WalletState }) {
  const { t } = useI18n();
  const held = wallet.status?.held ?? null;
  if (held === null) return null;
  return (
    <div class="card-block card-held" data-testid="held-status">
      <h2>{t.heldTitle}</h2>
      <p>{t.heldReason(held)}</p>
      <p>{t.heldContact}</p>
    </div>
  );
}

function FreezeBlock({ wallet }: { wallet: WalletState }) {
  const { t } = useI18n();
  const backend = useBackend();
  const frozen = wallet.status?.frozen ?? false;
  const freeze = useAction(async () => {
    await backend.freeze();
    await wallet.refreshStatus();
  });
  return (
    <div class={`card-block${frozen ? " card-frozen" : ""}`}>
      <h2>{t.freezeTitleShort}</h2>
      {frozen && (
        <p role="status">
          <strong>{t.frozenNow}</strong>
        </p>
      )}
      <p class="hint">{t.freezeExplain}</p>
      {frozen ? (
        <Unfreeze wallet={wallet} />
      ) : (
        <>
          <ErrorText error={freeze.error} />
          <Button variant="danger" busy={freeze.busy} onClick={() => freeze.run()} data-testid="freeze">
            {t.freeze}
          </Button>
        </>
      )}
    </div>
  );
}

/**
 * Recovery codes: what they are, and new ones. A new set, confirmed with the passkey, replaces
 * every old code; it is shown here once, and nothing keeps it after Done.
 */
function RecoveryBlock() {
  const { t } = useI18n();
  const backend = useBackend();
  const [asking, setAsking] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);
  const replace = useAction(() => backend.replaceRecoveryCodes());
  const title = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (codes) title.current?.focus();
  }, [codes]);

  const doReplace = async () => {
    const out = await replace.run();
    if (out.ok) {
      setAsking(false);
      setCodes(out.value);
    }
  };

  return (
    <div class="card-block">
      <h2>{t.recoveryTitle}</h2>
      {codes ? (
        <section aria-labelledby="new-codes-title">
          <h3 id="new-codes-title" tabIndex={-1} ref={title}>
            {t.newCodesTitle}
          </h3>
          <p>{t.newCodesLead}</p>
          <RecoveryCodesOnce
            codes={codes}
            savedLabel={t.savedNewCodes}
            doneLabel={t.done}
            onDone={() => setCodes(null)}
            testids={{ list: "new-recovery-codes", copy: "copy-new-codes", saved: "saved-new-codes", done: "done-new-codes" }}
          />
        </section>
      ) : (
        <>
          <p class="hint">{t.recoveryInfo}</p>
          {asking ? (
            <div class="confirm-inline" role="group" aria-labelledby="replace-codes-q">
              <p id="replace-codes-q">{t.replaceCodesExplain}</p>
              <ErrorText error={replace.error} />
              <div class="row">
                <Button
                  variant="ghost"
                  onClick={() => {
                    setAsking(false);
                    replace.clearError();
                  }}
                  data-testid="replace-codes-cancel"
                >
                  {t.cancel}
                </Button>
                <Button variant="primary" busy={replace.busy} onClick={doReplace} data-testid="replace-codes-confirm">
                  {t.replaceCodesYes}
                </Button>
              </div>
            </div>
          ) : (
            <Button variant="secondary" onClick={() => setAsking(true)} data-testid="replace-codes">
              {t.replaceCodes}
            </Button>
          )}
        </>
      )}
    </div>
  );
}

function Devices({ thisDeviceId, joinsVersion }: { thisDeviceId: string; joinsVersion: number }) {
  const { t, lang } = useI18n();
  const backend = useBackend();
  const [devices, setDevices] = useState<DeviceView[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const revoke = useAction(async (id: string) => {
    await backend.revokeDevice(id);
  });

  const load = useCallback(async () => {
    try {
      setDevices(await backend.devices());
      setError(null);
    } catch (e) {
      setError(toAppError(e));
    }
  }, [backend]);

  useEffect(() => {
    void load();
  }, [load, joinsVersion]);

  const doRevoke = async (id: string) => {
    const out = await revoke.run(id);
    if (out.ok) {
      setConfirming(null);
      await load();
    }
  };

  return (
    <div class="card-block">
      <h2>{t.devicesTitle}</h2>
      <ErrorText error={error} />
      <ul class="list" data-testid="devices-list">
        {(devices ?? []).map((d) => {
          const mine = d.this_device || d.id === thisDeviceId;
          return (
            <li key={d.id} class={`list-item${d.active ? "" : " is-inactive"}`} data-testid="device-item" data-this-device={mine ? "true" : "false"}>
              <div class="list-main">
                <span class="list-title">
                  {d.name} {mine && <Badge tone="ok">{t.thisDevice}</Badge>} {!d.active && <Badge>{t.revoked}</Badge>}
                </span>
                <span class="hint">{t.enrolledOn(formatDate(d.enrolled_at, lang))}</span>
                <span class="hint" data-testid="device-passkey">
                  {d.passkey_added_at ? t.passkeyAddedOn(formatDate(d.passkey_added_at, lang)) : t.noPasskey}
                </span>
              </div>
              {!mine && d.active && confirming !== d.id && (
                <Button variant="quiet" class="btn-small" onClick={() => setConfirming(d.id)} data-testid="revoke-device">
                  {t.revoke}
                </Button>
              )}
              {confirming === d.id && (
                <div class="confirm-inline" role="group" aria-label={t.revokeConfirm(d.name)}>
                  <p>{t.revokeConfirm(d.name)}</p>
                  {/* The server's only `invalid_state` here: the wallet's last active device stays. */}
                  <ErrorText error={revoke.error} text={revoke.error?.code === "invalid_state" ? t.revokeLastDevice : undefined} />
                  <div class="row">
                    <Button variant="ghost" class="btn-small" onClick={() => setConfirming(null)}>
                      {t.cancel}
                    </Button>
                    <Button variant="danger" class="btn-small" busy={revoke.busy} onClick={() => doRevoke(d.id)} data-testid="revoke-confirm">
                      {t.revokeYes}
                    </Button>
                  </div>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function Joins({ version }: { version: number }) {
  const { t, lang } = useI18n();
  const backend = useBackend();
  const [joins, setJoins] = useState<JoinView[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const approve = useAction((id: string) => backend.approveJoin(id));

  const load = useCallback(async () => {
    try {
      setJoins(await backend.waitingJoins());
      setError(null);
    } catch (e) {
      setError(toAppError(e));
    }
  }, [backend]);

  useEffect(() => {
    void load();
  }, [load, version]);

  const doApprove = async (id: string) => {
    const out = await approve.run(id);
    if (out.ok) await load();
  };

  return (
    <div class="card-block">
      <h2>{t.joinsTitle}</h2>
      <ErrorText error={error ?? approve.error} />
      {joins !== null && joins.length === 0 && <p class="hint">{t.noJoins}</p>}
      <ul class="list" data-testid="joins-list" aria-live="polite">
        {(joins ?? []).map((j) => (
          <li key={j.join_id} class="list-item" data-testid="join-item">
            <div class="list-main">
              <span class="list-title">{j.device_name ?? t.unnamedDevice}</span>
              {j.device_fingerprint && (
                <>
                  <span class="fingerprint-row">
                    {t.waitingKey}{" "}
                    <code class="fingerprint" data-testid="waiting-fingerprint">
                      {j.device_fingerprint}
                    </code>
                  </span>
                  <span class="hint hint-strong" id={`join-check-${j.join_id}`}>
                    {t.waitingKeyCheck}
                  </span>
                </>
              )}
              <span class="hint">{t.joinExpires(formatTime(j.expires_at, lang))}</span>
            </div>
            <Button
              variant="primary"
              class="btn-small"
              busy={approve.busy}
              onClick={() => doApprove(j.join_id)}
              aria-describedby={j.device_fingerprint ? `join-check-${j.join_id}` : undefined}
              data-testid="approve-join"
            >
              {t.approveJoin}
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Session({ wallet }: { wallet: WalletState }) {
  const { t } = useI18n();
  const backend = useBackend();
  const signOut = useAction(() => backend.signOut());
  const signIn = useAction(() => backend.signIn());
  return (
    <div class="card-block">
      <h2>{t.sessionTitle}</h2>
      {wallet.signedOut && <p role="status">{t.signedOut}</p>}
      <ErrorText error={signOut.error ?? signIn.error} />
      {wallet.signedOut ? (
        <Button
          variant="primary"
          busy={signIn.busy}
          onClick={async () => {
            const out = await signIn.run();
            if (out.ok) {
              wallet.setSignedOut(false);
              await wallet.refreshStatus();
            }
          }}
          data-testid="sign-in"
        >
          {t.signIn}
        </Button>
      ) : (
        <Button
          variant="secondary"
          busy={signOut.busy}
          onClick={async () => {
            const out = await signOut.run();
            if (out.ok) wallet.setSignedOut(true);
          }}
          data-testid="sign-out"
        >
          {t.signOut}
        </Button>
      )}
    </div>
  );
}

function Forget() {
  const { t } = useI18n();
  const backend = useBackend();
  const [asking, setAsking] = useState(false);
  const [understood, setUnderstood] = useState(false);
  const forget = useAction(() => backend.forget());
  return (
    <div class="card-block card-danger">
      <h2>{t.forget}</h2>
      <p class="hint">{t.forgetExplain}</p>
      {asking ? (
        <div class="confirm-inline" role="group" aria-labelledby="forget-q">
          <label class="check" id="forget-q">
            <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.currentTarget.checked)} data-testid="forget-understand" />
            <span>{t.forgetUnderstand}</span>
          </label>
          <ErrorText error={forget.error} />
          <div class="row">
            <Button
              variant="ghost"
              onClick={() => {
                setAsking(false);
                setUnderstood(false);
              }}
            >
              {t.cancel}
            </Button>
            <Button variant="danger" disabled={!understood} busy={forget.busy} onClick={() => forget.run()} data-testid="forget-confirm">
              {t.forgetYes}
            </Button>
          </div>
        </div>
      ) : (
        <Button variant="danger" onClick={() => setAsking(true)} data-testid="forget">
          {t.forget}
        </Button>
      )}
    </div>
  );
}
