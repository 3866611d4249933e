//! Inkan's issuer server: passkey accounts, devices, merchants and terminals, charges confirmed one
//! by one with a passkey, a double-entry ledger, and a live feed of notices.
//!
//! A library first, so tests build the router with [`app`] and run a real server on port 0 with
//! [`run`]; `main.rs` only parses configuration and calls these.

// Modules are the crate's own unless something outside needs them: `pub` for what `main.rs`
// (the server and its operator commands) assembles, and `pub` only with the `testing` feature for
// what only the tests and the testkit reach.
pub(crate) mod activity;
pub mod admin;
pub(crate) mod admission;
pub(crate) mod api;
pub mod attempts;
pub mod audit;
pub(crate) mod auth;
pub(crate) mod charge_sql;
pub mod clock;
pub(crate) mod codes;
pub(crate) mod cpu;
pub mod db;
pub(crate) mod error;
pub mod feed;
#[cfg(feature = "testing")]
pub mod flow;
#[cfg(not(feature = "testing"))]
pub(crate) mod flow;
pub(crate) mod freezing;
#[cfg(feature = "testing")]
pub mod housekeeping;
#[cfg(not(feature = "testing"))]
pub(crate) mod housekeeping;
pub(crate) mod http;
#[cfg(feature = "testing")]
pub mod hub;
#[cfg(not(feature = "testing"))]
pub(crate) mod hub;
pub(crate) mod idempotency;
pub mod issuer;
pub(crate) mod ledger;
pub(crate) mod openapi;
pub mod operator;
pub(crate) mod origin;
pub(crate) mod passkeys;
pub mod provider;
pub(crate) mod ratelimit;
pub(crate) mod refusals;
pub mod sandbox;
pub(crate) mod secrets;
pub mod settings;
pub(crate) mod settlement;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod switches;
pub mod telemetry;
pub mod tries;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

pub use settings::Settings;
pub use state::AppState;

/// The router with every route of the API.
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}

/// Serves the API on `listener` until `shutdown` resolves, with the background expiry of
/// unconfirmed charges, housekeeping (`housekeeping::sweeper`), the settling of top-ups whose
/// answer was lost (`flow::topups::reconciler`, at once and on a schedule) and (on PostgreSQL) the relay of other instances' changes; then finishes
/// in-flight requests and returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_split(Listeners { public: listener, operator: None, metrics: None }, state, shutdown).await
}

/// Where the server answers.
#[derive(Debug)]
pub struct Listeners {
    /// The API (and the operator's, without `operator`).
    pub public: tokio::net::TcpListener,
    /// The operator API only; the public listener then answers its paths `404`
    /// (`serve --admin-listen`).
    pub operator: Option<tokio::net::TcpListener>,
    /// Prometheus metrics, with the recorder's handle ([`telemetry::install`]; `serve
    /// --metrics-listen`).
    pub metrics: Option<(tokio::net::TcpListener, telemetry::Handle)>,
}

/// As [`run`], on each of `listeners`.
pub async fn run_split(
    listeners: Listeners,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Listeners { public: listener, operator, metrics } = listeners;
    // What a crash left pending with the card provider is settled before the first request.
    flow::topups::reconcile_at_start(&state).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sweeper = tokio::spawn(flow::charges::expiry_sweeper(state.clone(), stop_rx.clone()));
    let housekeeping = tokio::spawn(housekeeping::sweeper(state.clone(), stop_rx.clone()));
    let reconciler = tokio::spawn(flow::topups::reconciler(state.clone(), stop_rx.clone()));
    let relay = {
        let (db, hub) = (state.db.clone(), state.hub.clone());
        tokio::spawn(async move { db.relay_changes(hub, stop_rx).await })
    };
    // Both listeners stop on the same signal.
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let hub = state.hub.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Live feeds never end by themselves; end them so the graceful shutdown can finish.
        hub.close();
        let _ = closing_tx.send(true);
    });
    let closing = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|closing| *closing).await;
    };
    let metrics = metrics.map(|(listener, handle)| {
        let router = http::metrics_router(state.clone(), handle);
        tokio::spawn(axum::serve(listener, router).with_graceful_shutdown(closing(closing_rx.clone())).into_future())
    });
    let served = match operator {
        None => {
            axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(closing(closing_rx))
                .await
        }
        Some(operator) => {
            let public = axum::serve(
                listener,
                http::public_router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(closing(closing_rx.clone()));
            let admin =
                axum::serve(operator, http::operator_router(state).into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(closing(closing_rx));
            let (public, admin) = tokio::join!(public.into_future(), admin.into_future());
            public.and(admin)
        }
    };
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    let _ = stop_tx.send(true);
    let _ = sweeper.await;
    let _ = housekeeping.await;
    let _ = reconciler.await;
    let _ = relay.await;
    served
}
