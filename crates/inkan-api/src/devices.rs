//! Adding a device to an existing wallet, and the recovery-code actions.
//!
//! 1. The new device asks to join: `POST /v1/device-joins` → a join id.
//! 2. It submits its device key with a proof of possession over the join id, and optionally a
//!    recovery code: `POST /v1/device-joins/{id}/device`.
//! 3. Without a recovery code, a signed-in device of the wallet approves it with a passkey step-up
//!    (`POST /v1/wallet/device-joins/{id}/approve`), after comparing the key fingerprint it shows
//!    with the one the new device shows; the new device polls `GET /v1/device-joins/{id}`.
//! 4. Once approved, the new device makes its own passkey:
//!    `POST /v1/device-joins/{id}/passkey/challenge`, then `POST /v1/device-joins/{id}/passkey`.
//!
//! Once the key is submitted, every later call of the new device carries its signature over the
//! join id and the step (header `inkan-device-signature`): only that device can follow the join.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use webauthn_rs_proto::RegisterPublicKeyCredential;

use crate::wallet::{Assertion, NewDevice, Session};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeginJoin {
    pub account_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JoinState {
    /// Waiting for the new device's key.
    AwaitingDevice,
    /// Waiting for a signed-in device of the wallet to approve with its passkey.
    AwaitingApproval,
    /// Approved: the new device may now make its passkey.
    Approved,
    /// The device is part of the wallet.
    Completed,
    /// A wrong recovery code was given; start again.
    Rejected,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Join {
    pub join_id: String,
    pub state: JoinState,
    /// The name the new device gave with its key; `null` until then.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub device_name: Option<String>,
    /// The fingerprint of the new device's key (`XXXX-XXXX-XXXX-XXXX`), which that device shows
    /// too: compare them before approving. `null` until the key is submitted.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub device_fingerprint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `POST /v1/device-joins/{id}/device`
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubmitDevice {
    pub device: NewDevice,
    /// A recovery code of the wallet approves the join at once (and is used up).
    #[serde(default)]
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for SubmitDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmitDevice")
            .field("device", &self.device)
            .field("recovery_code", &self.recovery_code.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `POST /v1/wallet/device-joins/{id}/approve`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApproveJoin {
    pub step_up: Assertion,
}

/// `POST /v1/device-joins/{id}/passkey`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FinishJoin {
    pub ceremony_id: String,
    /// The authenticator's new credential, a WebAuthn `RegistrationResponseJSON`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-registrationresponsejson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: RegisterPublicKeyCredential,
}

/// The new device is in the wallet, signed in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Joined {
    pub account_id: String,
    pub device_id: String,
    pub session: Session,
}

/// `POST /v1/accounts/{id}/freeze`: freeze a wallet with a recovery code, from anywhere (a lost
/// phone). The code is not used up: freezing gives no access.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FreezeWithRecoveryCode {
    pub recovery_code: String,
}

impl std::fmt::Debug for FreezeWithRecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreezeWithRecoveryCode(***)")
    }
}
