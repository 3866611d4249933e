//! Which device a payment code shown to a terminal comes from: the code parsed (either version,
//! within the migration window the settings set), checked, and its device found. Version 1 names
//! its device's key id in clear and is verified with that device's public key; version 2 is
//! opened with the issuer's seal key and names its device's index inside
//! (docs/payment-code.md).

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_core::payment_code::v2::{PreApproval, SealedCode};
use inkan_core::payment_code::{DevicePublicKey, PaymentCodeError, ScannedCode, UnverifiedPaymentCode};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::from_ms;
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store;

/// A payment code refused, as a terminal hears it: every refusal of the core named (no wildcard),
/// so that a new one cannot slip through as another.
impl From<PaymentCodeError> for AppError {
    fn from(e: PaymentCodeError) -> AppError {
        let (status, code) = match e {
            PaymentCodeError::Expired | PaymentCodeError::NotYetValid => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentCodeExpired)
            }
            PaymentCodeError::CounterNotFresh => (StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed),
            PaymentCodeError::WrongLength(_)
            | PaymentCodeError::NotBase45
            | PaymentCodeError::UnsupportedVersion(_)
            | PaymentCodeError::BadValidityWindow
            | PaymentCodeError::BadSignature
            | PaymentCodeError::BadKey
            | PaymentCodeError::TimeOutOfRange
            | PaymentCodeError::UnknownSealKey(_)
            | PaymentCodeError::NotOpenable
            | PaymentCodeError::VersionRetired => (StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid),
        };
        AppError::new(status, code, e.to_string())
    }
}

/// The active device whose payment code a terminal presents, the code checked (signature or tag,
/// and validity; its counter is used atomically by the charge's transaction).
pub(crate) struct PayingDevice {
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) enrolled_at: time::OffsetDateTime,
    pub(crate) counter: u32,
    /// The shopper's pre-approval a version 2 code carries, its tag checked (whether it may still
    /// pay is the charge rules' decision).
    pub(crate) pre_approval: Option<PreApproval>,
}

pub(crate) async fn paying_device(
    app: &AppState,
    payment_code: &str,
    now: time::OffsetDateTime,
) -> Result<PayingDevice> {
    let code = ScannedCode::parse(payment_code)?;
    code.admitted(app.settings.payment_code_v1_until, now)?;
    match code {
        ScannedCode::V1(code) => by_key_id(app, code, now).await,
        ScannedCode::V2(code) => by_index(app, code, now).await,
    }
}

fn not_from_an_active_device() -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid, "this payment code is not from an active device")
}

async fn by_key_id(app: &AppState, code: UnverifiedPaymentCode, now: time::OffsetDateTime) -> Result<PayingDevice> {
    let device = store::devices::active_by_key_id(app.db.reads(), &code.key_id().to_string())
        .await?
        .ok_or_else(not_from_an_active_device)?;
    let public_key =
        DevicePublicKey::from_sec1(&device.try_get::<Vec<u8>, _>("public_key")?).map_err(AppError::internal)?;
    let verified = crate::cpu::off_workers(move || code.verify(&public_key, now, None)).await??;
    paying(&device, verified.claims().counter, None)
}

async fn by_index(app: &AppState, code: SealedCode, now: time::OffsetDateTime) -> Result<PayingDevice> {
    // The X25519 agreement that opens it is the costly part: off the runtime's workers.
    let opener = app.clone();
    let opened = crate::cpu::off_workers(move || opener.codes.open(&code)).await??;
    let index = i64::try_from(opened.index().get()).map_err(AppError::internal)?;
    let device =
        store::devices::active_by_code_index(app.db.reads(), index).await?.ok_or_else(not_from_an_active_device)?;
    let verified = opened.verify(app.codes.master(), now, None)?;
    let claims = verified.claims();
    paying(&device, claims.counter, claims.pre_approval)
}

fn paying(device: &AnyRow, counter: u32, pre_approval: Option<PreApproval>) -> Result<PayingDevice> {
    Ok(PayingDevice {
        id: device.try_get("id")?,
        account_id: device.try_get("account_id")?,
        enrolled_at: from_ms(device.try_get("enrolled_at")?),
        counter,
        pre_approval,
    })
}
