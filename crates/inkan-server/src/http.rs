//! The HTTP surface: routes, admission (load limits), body limit, tracing, and the fallback for
//! unknown paths.
//!
//! Each route is written once, as the `#[utoipa::path]` description on its handler: the route
//! tables below build the router from those descriptions (`utoipa_axum::routes!`), and the same
//! tables give the OpenAPI document its paths (the document `GET /openapi.json` serves). A route
//! cannot be served without being documented, nor documented without being served.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use inkan_api::ErrorCode;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    accounts, charges, devices, enrolment, funding, operator, payouts, recovery, review, topups, wallet, wind_down,
};
use crate::error::AppError;
use crate::state::AppState;
use crate::{feed, refusals};

/// Every route of the API on one listener: the public API and the operator's.
pub fn router(state: AppState) -> Router {
    with_layers(public_routes().merge(operator_routes()), state)
}

/// The public API only: what shoppers' devices and terminals call. The operator's routes are
/// unknown here (`404`), as when the operator API has its own listener (`serve --admin-listen`).
pub fn public_router(state: AppState) -> Router {
    with_layers(public_routes(), state)
}

/// The operator API only (the kill switches), with `/healthz`, for a listener kept off the
/// internet.
pub fn operator_router(state: AppState) -> Router {
    with_layers(OpenApiRouter::new().routes(routes!(healthz)).merge(operator_routes()), state)
}

/// The OpenAPI document of every route (the public API's and the operator's), as
/// `GET /openapi.json` serves it.
#[cfg(test)]
pub fn openapi() -> utoipa::openapi::OpenApi {
    DOCUMENT.clone()
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> =
    LazyLock::new(|| crate::openapi::describe(public_routes().merge(operator_routes()).into_openapi()));

fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(document))
        // Merchant API
        .routes(routes!(charges::create))
        .routes(routes!(charges::get))
        .routes(routes!(charges::refund))
        // Accounts and sessions
        .routes(routes!(enrolment::begin_registration))
        .routes(routes!(enrolment::finish_registration))
        .routes(routes!(accounts::begin_sign_in))
        .routes(routes!(accounts::finish_sign_in))
        .routes(routes!(accounts::sign_out))
        .routes(routes!(devices::freeze_with_recovery_code))
        // A new device joining a wallet
        .routes(routes!(devices::begin))
        .routes(routes!(devices::show))
        .routes(routes!(devices::submit))
        .routes(routes!(devices::passkey_challenge))
        .routes(routes!(devices::finish))
        // Wallet
        .routes(routes!(devices::waiting))
        .routes(routes!(devices::approve))
        .routes(routes!(wallet::show))
        .routes(routes!(accounts::begin_step_up))
        .routes(routes!(wallet::set_limits))
        .routes(routes!(wallet::freeze))
        .routes(routes!(wallet::unfreeze))
        .routes(routes!(recovery::unfreeze))
        .routes(routes!(recovery::replace))
        .routes(routes!(payouts::close_wallet))
        .routes(routes!(wallet::devices))
        .routes(routes!(wallet::revoke_device))
        .routes(routes!(charges::pending))
        .routes(routes!(charges::confirm))
        .routes(routes!(charges::decline))
        .routes(routes!(funding::list_cards, funding::add_card))
        .routes(routes!(funding::verify_card))
        .routes(routes!(topups::top_up))
        .routes(routes!(feed::stream))
        .routes(routes!(feed::export))
        .routes(routes!(feed::issuer_keys))
}

/// The kill switches, holds, locks, flags, the audit trail and the review of held charges.
fn operator_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operator::list))
        .routes(routes!(operator::suspend, operator::resume))
        .routes(routes!(operator::hold, operator::release))
        .routes(routes!(operator::unlock))
        .routes(routes!(operator::flags))
        .routes(routes!(operator::audit_trail))
        .routes(routes!(review::list))
        .routes(routes!(review::approve))
        .routes(routes!(review::decline))
        .routes(routes!(wind_down::report, wind_down::batch))
}

/// What every listener's requests pass through: the 404 fallback, the JSON shape of every error
/// answer (`json_errors`), the refusal notices, the
/// client's origin (`origin::identify`), admission
/// (load limits and the request timeout), the server-time header, the body limit, the body's
/// deadline (`408` for a body sent too slowly), tracing, and the request id, counts and times
/// (`telemetry::observe`).
fn with_layers(routes: OpenApiRouter<AppState>, state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    let body_timeout = state.settings.load.body_timeout;
    let (routes, _) = routes.split_for_parts();
    routes
        .fallback(not_found)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), refusals::record))
        .layer(axum::middleware::map_response_with_state(state.clone(), durable_answers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::origin::identify))
        .layer(axum::middleware::from_fn_with_state(state.admission.clone(), crate::admission::admit))
        .layer(axum::middleware::map_response_with_state(state.clone(), stamp_server_time))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(body_timeout))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
            tracing::info_span!(
                "request",
                method = %request.method(),
                uri = %request.uri(),
                request_id = crate::telemetry::request_id(request),
            )
        }))
        .layer(axum::middleware::from_fn(crate::telemetry::observe))
        .with_state(state)
}

/// The metrics listener (`serve --metrics-listen`): `GET /metrics` in Prometheus' text format, and
/// nothing else. Kept off the API's listeners: it tells load and kill-switch state to whoever
/// reaches it.
pub fn metrics_router(state: AppState, handle: crate::telemetry::Handle) -> Router {
    Router::new().route("/metrics", axum::routing::get(scrape)).with_state((state, handle))
}

/// One scrape: what was recorded, then the gauges of this server's state, read from their
/// source at each scrape (so they cannot drift): open feeds, requests in flight, and the kill
/// switches from the database (a suspension set through another instance shows here too).
async fn scrape(
    axum::extract::State((state, handle)): axum::extract::State<(AppState, crate::telemetry::Handle)>,
) -> Response {
    handle.run_upkeep();
    let mut text = handle.render();
    let admission = &state.admission;
    let mut gauges = vec![
        (
            "inkan_feed_subscribers",
            "Live feeds open now (wallets listening for notices).",
            None,
            admission.feeds_open(),
        ),
        (
            "inkan_requests_in_flight",
            "Short requests being handled now.",
            None,
            *admission.requests_in_flight().borrow(),
        ),
        ("inkan_streams_open", "Live feeds and long-polls open now.", None, *admission.open_streams().borrow()),
    ];
    match crate::store::suspensions::all(state.db.reads()).await {
        Ok(suspended) => gauges.extend(inkan_api::admin::Service::ALL.into_iter().map(|service| {
            let on = suspended.iter().any(|s| s.service == service);
            let help = "1 while the operator has the service suspended (a kill switch).";
            ("inkan_service_suspended", help, Some(service.as_str()), usize::from(on))
        })),
        // The rest of the scrape is still worth having; the missing series say the read failed.
        Err(e) => tracing::warn!(code = ?e.code, "metrics: could not read the kill switches"),
    }
    crate::telemetry::render_gauges(&mut text, &gauges);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// No answer leaves before what it may have read is durable (`Db::settled`): on SQLite a read
/// sees a committed batch before its sync, and an answer that told of it must not be undone by a
/// power cut. A stream's events are settled as they are read (`feed`).
async fn durable_answers(
    axum::extract::State(state): axum::extract::State<AppState>,
    response: axum::response::Response,
) -> axum::response::Response {
    state.db.settled().await;
    response
}

/// Every response says what time the server thinks it is, so a device can issue payment codes
/// on the server's clock even when its own is off (`inkan_api::SERVER_TIME_HEADER`).
async fn stamp_server_time(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let now = crate::clock::to_ms(state.clock.now());
    if let Ok(value) = axum::http::HeaderValue::from_str(&now.to_string()) {
        response.headers_mut().insert(inkan_api::SERVER_TIME_HEADER, value);
    }
    response
}

/// Liveness
///
/// Answers `ok` while the process serves requests; it does not check the database.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The server is up.", body = String, content_type = "text/plain", example = "ok"))
)]
async fn healthz() -> &'static str {
    "ok"
}

/// This document
///
/// The OpenAPI 3.1 description of every route of this server.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
async fn document() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(&*DOCUMENT)
}

async fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such endpoint")
}

/// Every error answer in the API's JSON shape (`{"error": {"code", "message"}}`), those axum
/// makes itself included: a method the path does not take (`405`, its `Allow` header kept), a
/// path parameter that does not decode (`400`).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::InvalidRequest, "this endpoint does not take this method"),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such endpoint"),
        s if s.is_server_error() => (ErrorCode::Internal, "internal error; please retry"),
        _ => (ErrorCode::InvalidRequest, "the request's path or parameters could not be read"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut answer = AppError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    async fn state(dir: &tempfile::TempDir) -> AppState {
        let db = crate::db::Db::open(&format!("sqlite://{}", dir.path().join("inkan.db").display())).await.unwrap();
        let settings = crate::Settings::for_relying_party(
            "localhost".to_owned(),
            url::Url::parse("http://localhost:8080").unwrap(),
        )
        .unwrap();
        AppState::new(
            db,
            std::sync::Arc::new(crate::clock::SystemClock),
            settings,
            std::sync::Arc::new(crate::sandbox::SandboxProvider::in_memory()),
            crate::issuer::Issuer::generate(&ring::rand::SystemRandom::new()).unwrap().0,
        )
        .unwrap()
    }

    async fn ask(router: &Router, method: Method, path: &str) -> (StatusCode, Value) {
        let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn the_router_serves_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
        let response = router(state(&dir).await).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let served: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(served, serde_json::to_value(openapi()).unwrap());
    }

    /// Every documented operation reaches a handler (not the fallback's `404`, not `405`), on the
    /// listener that serves it; the public listener does not serve the operator's; a method the
    /// document does not name is `405`.
    #[tokio::test]
    async fn the_router_serves_exactly_the_documented_operations() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let (all, public, operator) =
            (router(state.clone()), public_router(state.clone()), operator_router(state.clone()));
        let document = serde_json::to_value(openapi()).unwrap();
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            let uri = path.replace("{id}", "ch_0").replace("{service}", "charges");
            for method in ["get", "put", "post", "delete", "patch"] {
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let (status, body) = ask(&all, m.clone(), &uri).await;
                if item.get(method).is_none() {
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is not documented");
                    continue;
                }
                checked += 1;
                let reached = |status: StatusCode, body: &Value| {
                    status != StatusCode::METHOD_NOT_ALLOWED && body["error"]["message"] != "no such endpoint"
                };
                assert!(reached(status, &body), "{method} {path}: {status} {body}");
                let is_operator = path.starts_with("/v1/admin/");
                let (status, body) = ask(&public, m.clone(), &uri).await;
                assert_eq!(reached(status, &body), !is_operator, "public listener, {method} {path}: {status} {body}");
                let (status, body) = ask(&operator, m, &uri).await;
                assert_eq!(
                    reached(status, &body),
                    is_operator || path == "/healthz",
                    "operator listener, {method} {path}: {status} {body}"
                );
            }
        }
        assert_eq!(checked, 51);
    }
}
