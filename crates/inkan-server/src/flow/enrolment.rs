//! A new wallet: passkey creation options for a display name, then the account, its first
//! device (with its proof of possession over the ceremony id), the passkey, recovery codes and a
//! session, in one transaction.

use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::{BeginRegistration, Enrolled, FinishRegistration, RegistrationChallenge};
use inkan_core::LimitSettings;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::PasskeyRegistration;

use crate::error::{AppError, Result};
use crate::flow::accounts::{check_device, display_name, insert_device, open_session};
use crate::origin::Client;
use crate::passkeys::{self, ActingDevice, put_ceremony, take_ceremony};
use crate::ratelimit::Flow;
use crate::secrets::new_id;
use crate::state::AppState;
use crate::{feed, store, switches};

#[derive(Serialize, Deserialize)]
struct RegistrationContext {
    display_name: String,
    user: Uuid,
}

/// Passkey creation options for a new wallet named `body.display_name`, valid for one ceremony.
pub(crate) async fn begin(app: &AppState, client: &Client, body: &BeginRegistration) -> Result<RegistrationChallenge> {
    client.admit(app)?;
    client.limit(app, Flow::Enrolment, None)?;
    let display_name = display_name(&body.display_name)?;
    switches::ensure_running(app.db.reads(), Service::Enrolment).await?;
    let user = Uuid::new_v4();
    let (options, state) = app
        .webauthn
        .start_passkey_registration(user, &display_name, &display_name, None)
        .map_err(AppError::internal)?;
    let context = RegistrationContext { display_name, user };
    let ceremony_id = put_ceremony(app, "registration", None, &state, &context).await?;
    Ok(RegistrationChallenge { ceremony_id, public_key: options })
}

/// The wallet, with its first device, passkey, recovery codes (shown this once) and a session.
pub(crate) async fn finish(app: &AppState, client: &Client, body: &FinishRegistration) -> Result<Enrolled> {
    client.admit(app)?;
    let (key, device_name) = check_device(&body.device, &body.ceremony_id)?;
    switches::ensure_running(app.db.reads(), Service::Enrolment).await?;
    let mut tx = app.db.begin().await?;
    let ceremony =
        take_ceremony::<PasskeyRegistration, RegistrationContext>(app, &mut tx, "registration", &body.ceremony_id)
            .await?;
    let now = app.clock.now();
    let account_id = new_id("acct", &app.rng)?;
    let limits = serde_json::to_string(&LimitSettings::new(app.settings.initial_limits))?;
    let (name, user) = (&ceremony.context.display_name, ceremony.context.user);
    store::accounts::insert(&mut tx, &account_id, name, user, inkan_core::Currency::Jpy, &limits, now).await?;
    let created = Notice::AccountCreated { display_name: name.clone() };
    feed::append(&mut tx, &app.issuer, &account_id, &created, now).await?;
    let key_id = body.device.key_id.to_string();
    let device_id = insert_device(&mut tx, app, &account_id, &key_id, key.as_sec1(), &device_name).await?;
    let device = ActingDevice { account_id: &account_id, device_id: &device_id, session: None };
    passkeys::register(app, &mut tx, device, &body.credential, &ceremony.state).await?;
    let recovery_codes = store::recovery_codes::issue(&mut tx, app, &account_id).await?;
    let session = open_session(&mut tx, app, &account_id, &device_id).await?;
    tx.commit(&app.hub).await?;
    tracing::info!(%account_id, %device_id, "account created");
    Ok(Enrolled { account_id, device_id, recovery_codes, session })
}
