//! The client behind each request: its address and its country, as the trusted edge names them
//! ([`inkan_core::region::Edge`]), and the region policy applied to the flows it guards (brief rule
//! 6): enrolment, sign-in, device joins, card registration, top-ups and payments.
//!
//! The middleware [`identify`] reads the socket's peer and the edge's headers once per request;
//! handlers take the result as the [`Client`] extractor. Per-address limits key on
//! `Client::address()`, never on a header a client could write itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_core::region::{Blocked, Country, Origin};

use crate::error::{AppError, Result};
use crate::ratelimit::Flow;
use crate::state::AppState;

/// A request's client, as established by [`identify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(pub Origin);

/// The flows the region policy guards, as the shopper's notice names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    SignIn,
    DeviceJoin,
    Card,
    TopUp,
    Payment,
}

impl Guarded {
    pub fn as_str(self) -> &'static str {
        match self {
            Guarded::SignIn => "sign_in",
            Guarded::DeviceJoin => "device_join",
            Guarded::Card => "card",
            Guarded::TopUp => "top_up",
            Guarded::Payment => "payment",
        }
    }
}

/// Middleware: names the client of every request (`Client`) from the peer and, when the peer is a
/// trusted proxy, its `X-Forwarded-For` and country header.
pub async fn identify(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    // Served without connection info (a router called directly), the peer is unknown: it is
    // neither loopback nor a trusted proxy.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(address)| address.ip());
    let edge = &app.settings.edge;
    let origin = if edge.trusts(peer) {
        let headers = request.headers();
        // Several X-Forwarded-For headers are one list, in order.
        let forwarded: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        let country = edge.country_header.as_deref().and_then(|name| headers.get(name)).and_then(|v| v.to_str().ok());
        edge.origin(peer, forwarded.as_deref(), country)
    } else {
        edge.origin(peer, None, None)
    };
    request.extensions_mut().insert(Client(origin));
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .extensions
            .get::<Client>()
            .copied()
            .ok_or_else(|| AppError::internal("no client origin: identify missing"))
    }
}

/// `403 region_blocked`, with one stable message whatever the reason.
pub fn region_blocked() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::RegionBlocked,
        "Inkan is available only in the countries it is licensed in; this request came from outside them",
    )
}

impl Client {
    /// The client's address, for per-address limits.
    pub fn address(&self) -> IpAddr {
        self.0.address
    }

    /// Takes a token of `flow`'s rate limits for this client's address and, if given, the wallet
    /// (see `ratelimit`); or `429 too_many_requests`.
    pub fn limit(&self, app: &AppState, flow: Flow, account_id: Option<&str>) -> Result<()> {
        app.limiter.check(flow, self.address(), account_id)
    }

    /// Fails with `region_blocked` unless the region policy admits this client.
    pub fn admit(&self, app: &AppState) -> Result<()> {
        app.settings.region.admit(&self.0).map_err(|_| region_blocked())
    }

    /// As [`Client::admit`], for a flow of a known wallet: a refusal also tells the wallet's
    /// devices (`region_refused`), so a shopper learns that someone abroad tried.
    pub fn admit_for(&self, app: &AppState, account_id: &str, flow: Guarded) -> Result<()> {
        self.admit(app).map_err(|refused| {
            refused.with_notice(
                account_id,
                Notice::RegionRefused { during: flow.as_str().to_owned(), country: self.named() },
            )
        })
    }

    fn named(&self) -> Option<String> {
        self.0.country.map(|c| c.to_string())
    }
}

/// Fails with `region_blocked` when a terminal is configured for a country that is not served, with
/// a notice to the wallet whose code it tried; the terminal's country when it is served.
pub fn admit_terminal(app: &AppState, country: &str, account_id: &str) -> Result<Country> {
    let country: Country = country.parse().map_err(AppError::internal)?;
    app.settings.region.admit_terminal(country).map(|()| country).map_err(|_: Blocked| {
        region_blocked().with_notice(
            account_id,
            Notice::RegionRefused { during: Guarded::Payment.as_str().to_owned(), country: Some(country.to_string()) },
        )
    })
}
