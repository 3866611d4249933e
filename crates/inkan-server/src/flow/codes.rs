//! Which device a payment code shown to a terminal comes from: the code parsed (either version,
//! within the migration window the settings set), checked, and its device found. Version 1 names
//! its device's key id in clear and is verified with that device's public key; version 2 is
//! opened with the issuer's seal key and names its device's index inside
//! (docs/payment-code.md).

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_core::payment_code::v2::SealedCode;
use inkan_core::payment_code::{self, DevicePublicKey, PaymentCodeError, ScannedCode, UnverifiedPaymentCode};
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
            | PaymentCodeError::VersionRetired
            | PaymentCodeError::CounterOutOfReach => (StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid),
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
    AppError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::PaymentCodeInvalid,
        "this payment code is not from an active device",
    )
}

async fn by_key_id(app: &AppState, code: UnverifiedPaymentCode, now: time::OffsetDateTime) -> Result<PayingDevice> {
    let device = store::devices::active_by_key_id(app.db.reads(), &code.key_id().to_string())
        .await?
        .ok_or_else(not_from_an_active_device)?;
    let public_key =
        DevicePublicKey::from_sec1(&device.try_get::<Vec<u8>, _>("public_key")?).map_err(AppError::internal)?;
    let verified = crate::cpu::off_workers(move || code.verify(&public_key, now, None)).await??;
    paying(&device, verified.claims().counter)
}

async fn by_index(app: &AppState, code: SealedCode, now: time::OffsetDateTime) -> Result<PayingDevice> {
    // The X25519 agreement that opens it is the costly part: off the runtime's workers.
    let opener = app.clone();
    let opened = crate::cpu::off_workers(move || opener.codes.open(&code)).await??;
    // Verified before the device is looked up: the seal key is public, so anyone can seal a body
    // naming any index, and only the tag (under the key derived for that index) tells that a
    // device made it. An unverified index never reaches the database, and a forged code is
    // refused alike whether its index is a device's or not. A pre-approval the code carries has
    // its tag checked too; until the server pays such codes at once (issue 19, not built yet), the
    // charge waits for the passkey like any other.
    let verified = opened.verify(app.codes.master(), now, None)?;
    let index = i64::try_from(verified.claims().index.get()).map_err(AppError::internal)?;
    let device =
        store::devices::active_by_code_index(app.db.reads(), index).await?.ok_or_else(not_from_an_active_device)?;
    paying(&device, verified.claims().counter)
}

/// The device a verified code named, if its counter is within reach of the device's last payment
/// (`inkan_core::payment_code::within_reach`).
fn paying(device: &AnyRow, counter: u32) -> Result<PayingDevice> {
    let last_used = device.try_get::<Option<i64>, _>("last_counter")?.and_then(|c| u32::try_from(c).ok());
    payment_code::within_reach(counter, last_used)?;
    Ok(PayingDevice {
        id: device.try_get("id")?,
        account_id: device.try_get("account_id")?,
        enrolled_at: from_ms(device.try_get("enrolled_at")?),
        counter,
    })
}
