//! What the OpenAPI 3.1 document says beyond the operations: its title, tags and security
//! schemes, and the answers that every operation or a group of them may give (overload, timeouts,
//! rate limits, the region policy, locked tries, operator scopes).
//!
//! The operations themselves are described on their handlers (`#[utoipa::path]`), and `http`
//! builds the router and the document's paths from the same route tables; [`describe`] adds
//! the rest. Schemas are derived from the wire types of `inkan-api` and `inkan-core` (their
//! `openapi` feature), so a field changed there changes the document.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inkan HTTP API",
        description = "Merchant terminals create charges from a shopper's payment code; the shopper confirms each \
                       one with a passkey. Every error body is `{\"error\": {\"code\": ErrorCode, \"message\": \
                       string}}`: branch on the code, never on the message. Amounts are integers in the currency's \
                       minor unit (JPY has none: 1280 is ¥1,280). Every JSON request body refuses unknown fields."
    ),
    // Reached only through the feed's text, not through a body: listed so clients get its schema.
    components(schemas(inkan_api::feed::Notice, inkan_api::feed::LiveEvent)),
    modifiers(&BearerSchemes, &LoadLimitResponses, &AbuseResponses, &OperatorScopes),
    tags(
        (name = "merchant", description = "The merchant API: charges made by a terminal (the stable external contract)."),
        (name = "accounts", description = "Creating an account with a passkey, signing in and out."),
        (name = "devices", description = "A new device joining an existing wallet, approved by a passkey of the wallet or a recovery code."),
        (name = "wallet", description = "A signed-in wallet: balance, limits, devices, charges to confirm, cards, the live feed."),
        (name = "operator", description = "The operator's kill switches: suspend charges, top-ups or enrolment for everyone, or hold one account; locks of failed tries, flagged cards, charges held for review, and the audit trail. Each holds on every server instance from the moment it answers. Served on its own address when the server runs with `--admin-listen` (then the public address answers these paths 404)."),
        (name = "service", description = "Health and this document."),
    )
)]
struct ApiDoc;

/// Adds the three bearer schemes the operations refer to.
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "terminal_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A merchant terminal's key (`tk_…`), issued once by the operator with \
                         `inkan-server admin terminal create`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator key (`ok_…`), issued once with `inkan-server admin operator create`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A wallet session token (`ses_…`) of one device, from `POST /v1/accounts`, `POST /v1/sessions` \
                         or a finished device join. It ends after `idle_timeout_seconds` without a request, \
                         `max_lifetime_seconds` after it began, and when its device is removed, another device \
                         freezes the wallet or the operator holds the account; an open feed then closes.",
                    ))
                    .build(),
            ),
        );
    }
}

/// A response with an `ErrorBody`, and a `Retry-After` header if `retry_after`.
fn error_response(description: &str, retry_after: bool) -> utoipa::openapi::Response {
    use utoipa::openapi::ResponseBuilder;
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build());
    let response = if retry_after {
        response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
                .description(Some("Seconds to wait before retrying."))
                .build(),
        )
    } else {
        response
    };
    response.build()
}

/// Adds `503 overloaded` to every operation but `/healthz`: any request can meet the server at
/// its load limits (`admission`) or out of database connections.
struct LoadLimitResponses;

impl Modify for LoadLimitResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let response = error_response(
            "`overloaded`: the server is at its limit of requests in flight, of open live feeds and \
             long-polls, or of database connections. Nothing was done; retry after `Retry-After` seconds.",
            true,
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/healthz" {
                continue;
            }
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                operation.responses.responses.insert("503".to_owned(), RefOr::T(response.clone()));
            }
        }
    }
}

/// The operations with rate limits (`ratelimit`: `429`), and those the region policy guards
/// (`origin`: `403 region_blocked`).
pub const RATE_LIMITED: &[(&str, &str)] = &[
    ("post", "/v1/accounts/registration"),
    ("post", "/v1/sessions/challenge"),
    ("post", "/v1/device-joins"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/accounts/{id}/freeze"),
    ("post", "/v1/wallet/unfreeze/recovery-code"),
    ("post", "/v1/wallet/cards"),
    ("post", "/v1/wallet/cards/{id}/verify"),
    ("get", "/v1/wallet/feed"),
];

/// See [`RATE_LIMITED`].
pub const REGION_GUARDED: &[(&str, &str)] = &[
    ("post", "/v1/accounts/registration"),
    ("post", "/v1/accounts"),
    ("post", "/v1/sessions/challenge"),
    ("post", "/v1/sessions"),
    ("post", "/v1/device-joins"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/device-joins/{id}/passkey/challenge"),
    ("post", "/v1/device-joins/{id}/passkey"),
    ("post", "/v1/wallet/cards"),
    ("post", "/v1/wallet/cards/{id}/verify"),
    ("post", "/v1/wallet/topups"),
    ("post", "/v1/charges"),
    ("post", "/v1/wallet/charges/{id}/confirm"),
];

/// The operations that try a passkey or a recovery code: their tries can be locked
/// (`403 attempts_locked`), and a failure's answer may carry `tries_left` and `locked_until`.
const TRIES_COUNTED: &[(&str, &str)] = &[
    ("post", "/v1/sessions"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/accounts/{id}/freeze"),
    ("post", "/v1/wallet/unfreeze"),
    ("post", "/v1/wallet/unfreeze/recovery-code"),
    ("put", "/v1/wallet/limits"),
    ("post", "/v1/wallet/recovery-codes"),
    ("post", "/v1/wallet/device-joins/{id}/approve"),
    ("post", "/v1/wallet/devices/{id}/remove"),
    ("post", "/v1/wallet/charges/{id}/confirm"),
    ("post", "/v1/wallet/close"),
];

/// Adds `also` to an operation's `403` answer (or makes it the answer).
fn add_forbidden(
    responses: &mut std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>>,
    also: &str,
) {
    use utoipa::openapi::RefOr;
    let forbidden = match responses.remove("403") {
        Some(RefOr::T(mut existing)) => {
            existing.description = format!("{} Or {also}", existing.description);
            existing
        }
        _ => error_response(also, false),
    };
    responses.insert("403".to_owned(), RefOr::T(forbidden));
}

/// Adds `403 forbidden` to every operator operation: a key may act only within its scopes
/// (`inkan_core::operator`).
struct OperatorScopes;

impl Modify for OperatorScopes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        const SCOPE: &str = "`forbidden`: this operator key lacks the scope the action needs (`switches` to \
                             suspend, resume, hold, release, unlock and wind down; `review` to list, approve and decline \
                             held charges; `read` to list the rest). Nothing was done.";
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/admin/") {
                continue;
            }
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete].into_iter().flatten() {
                add_forbidden(&mut operation.responses.responses, SCOPE);
            }
        }
    }
}

/// Adds the abuse defences' answers: `408 request_timeout` to every operation but `/healthz`,
/// `429 too_many_requests` to the rate-limited ones, `403 region_blocked` to the guarded ones and
/// `403 attempts_locked` to those that try a passkey or a recovery code (beside any other `403` an
/// operation has).
struct AbuseResponses;

impl Modify for AbuseResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let timeout = error_response(
            "`request_timeout`: the request took longer than the server waits (its body arrived too slowly, \
             or it could not be handled in time). Nothing was kept; send it again.",
            false,
        );
        let limited = error_response(
            "`too_many_requests`: a rate limit of this client address or this wallet was reached (or, for \
             device joins, three are already waiting; for the live feed, the wallet has as many open as it \
             may). Nothing was done; retry after `Retry-After` seconds.",
            true,
        );
        const REGION: &str = "`region_blocked`: the request came from outside the countries Inkan serves (as the \
                              trusted edge names them), or, for a charge, the terminal is configured for one. \
                              Nothing was done.";
        const LOCKED: &str = "`attempts_locked`: five failed tries of a passkey or a recovery code locked this \
                              device, this client address or (for recovery codes) this wallet until \
                              `locked_until`; nothing was tried. A failed try's answer carries `tries_left` \
                              when one is left, and `locked_until` when it locked.";
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/healthz" {
                continue;
            }
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                responses.insert("408".to_owned(), RefOr::T(timeout.clone()));
                if RATE_LIMITED.contains(&(method, path.as_str())) {
                    responses.insert("429".to_owned(), RefOr::T(limited.clone()));
                }
                if REGION_GUARDED.contains(&(method, path.as_str())) {
                    add_forbidden(responses, REGION);
                }
                if TRIES_COUNTED.contains(&(method, path.as_str())) {
                    add_forbidden(responses, LOCKED);
                }
            }
        }
    }
}

/// The whole document: `paths` (the operations and the schemas they refer to, from the route
/// tables) with the title, tags, security schemes and the common answers.
pub fn describe(paths: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(paths);
    let modifiers: [&dyn Modify; 4] = [&BearerSchemes, &LoadLimitResponses, &AbuseResponses, &OperatorScopes];
    for modifier in modifiers {
        modifier.modify(&mut document);
    }
    document
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use inkan_api::ErrorCode;
    use serde_json::Value;

    use super::*;

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn document_json() -> Value {
        let text = serde_json::to_string(&crate::http::openapi()).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_some() {
                    routes.insert((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_operation_has_its_own_id_and_the_common_parts() {
        let doc = document_json();
        assert_eq!(doc["openapi"], "3.1.0");
        let routes = documented_routes(&doc);
        // The route tables' operations, `/healthz` and `/openapi.json` among them.
        assert_eq!(routes.len(), 51, "{routes:?}");
        let ids: Vec<&str> = routes.iter().map(|(m, p)| doc["paths"][p][m]["operationId"].as_str().unwrap()).collect();
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "operation ids are unique: {ids:?}");
        assert!(ids.contains(&"create_charge") && ids.contains(&"openapi"), "{ids:?}");
        assert!(doc["info"]["title"].as_str().unwrap().contains("Inkan"));
        assert!(doc["tags"].as_array().unwrap().len() >= 6);
        for (method, path) in &routes {
            let tags = doc["paths"][path][method]["tags"].as_array();
            assert_eq!(tags.map(Vec::len), Some(1), "{method} {path} has one tag");
            assert!(!doc["paths"][path][method]["summary"].as_str().unwrap_or("").is_empty(), "{method} {path}");
        }
    }

    #[test]
    fn the_abuse_defences_answers_are_on_the_operations_that_give_them() {
        let doc = document_json();
        let routes = documented_routes(&doc);
        for (method, path) in RATE_LIMITED.iter().chain(REGION_GUARDED) {
            assert!(routes.contains(&((*method).to_owned(), (*path).to_owned())), "{method} {path} is no route");
        }
        for (method, path) in RATE_LIMITED {
            let limited = &doc["paths"][path][method]["responses"]["429"];
            assert_eq!(limited["headers"]["Retry-After"]["schema"]["type"], "integer", "{method} {path}");
        }
        for (method, path) in REGION_GUARDED {
            let forbidden = doc["paths"][path][method]["responses"]["403"]["description"].as_str().unwrap();
            assert!(forbidden.contains("region_blocked"), "{method} {path}: {forbidden}");
        }
        // A guarded operation keeps its other 403 too.
        let charge = doc["paths"]["/v1/charges"]["post"]["responses"]["403"]["description"].as_str().unwrap();
        assert!(charge.contains("charges_suspended") && charge.contains("region_blocked"), "{charge}");
        for (method, path) in routes.iter().filter(|(_, p)| p != "/healthz") {
            assert!(doc["paths"][path][method]["responses"]["408"].is_object(), "{method} {path}");
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document_json();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn security_follows_the_kind_of_caller() {
        let doc = document_json();
        let schemes = |method: &str, path: &str| -> Vec<String> {
            doc["paths"][path][method]["security"]
                .as_array()
                .map(|reqs| reqs.iter().flat_map(|r| r.as_object().unwrap().keys().cloned()).collect())
                .unwrap_or_default()
        };
        for (method, path) in documented_routes(&doc) {
            let (method, path) = (method.as_str(), path.as_str());
            let expected: &[&str] = if path.starts_with("/v1/charges") {
                &["terminal_key"]
            } else if path.starts_with("/v1/wallet") || path == "/v1/sessions/current" {
                &["session"]
            } else if path.starts_with("/v1/admin") {
                &["operator_key"]
            } else {
                &[]
            };
            assert_eq!(schemes(method, path), expected, "{method} {path}");
        }
        for scheme in ["terminal_key", "session", "operator_key"] {
            assert_eq!(doc["components"]["securitySchemes"][scheme]["scheme"], "bearer");
        }
    }

    #[test]
    fn every_operation_but_liveness_documents_overload() {
        let doc = document_json();
        for (method, path) in documented_routes(&doc) {
            let overloaded = &doc["paths"][&path][&method]["responses"]["503"];
            if path == "/healthz" {
                assert!(overloaded.is_null(), "liveness is never refused");
                continue;
            }
            assert_eq!(
                overloaded["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
            assert_eq!(overloaded["headers"]["Retry-After"]["schema"]["type"], "integer", "{method} {path}");
        }
    }

    #[test]
    fn merchant_headers_and_parameters_are_described() {
        let doc = document_json();
        let param = |method: &str, path: &str, name: &str| -> Value {
            doc["paths"][path][method]["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
                .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
        };
        let key = param("post", "/v1/charges", "Idempotency-Key");
        assert_eq!((&key["in"], &key["required"]), (&Value::from("header"), &Value::from(true)));
        let wait = param("get", "/v1/charges/{id}", "wait");
        assert_eq!((&wait["in"], &wait["required"]), (&Value::from("query"), &Value::from(false)));
        let last = param("get", "/v1/wallet/feed", "Last-Event-ID");
        assert_eq!(last["in"], "header");
        assert!(doc["paths"]["/v1/wallet/feed"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    }

    #[test]
    fn custom_wire_forms_are_described_as_sent() {
        let doc = document_json();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Money"]["required"], serde_json::json!(["amount", "currency"]));
        assert_eq!(schemas["Money"]["properties"]["amount"]["type"], "integer");
        assert_eq!(schemas["Currency"]["enum"], serde_json::json!(["JPY"]));
        assert_eq!(schemas["DeviceKeyId"]["type"], "string");
        assert_eq!(schemas["DeviceKeyId"]["pattern"], "^[0-9a-f]{32}$");
        assert_eq!(schemas["Base64Url"]["type"], "string");
        assert_eq!(schemas["Base64Url"]["contentEncoding"], "base64url");
        for field in ["per_charge", "daily", "monthly"] {
            assert_eq!(schemas["LimitPolicy"]["properties"][field]["$ref"], "#/components/schemas/Money");
        }
        assert_eq!(schemas["Charge"]["properties"]["created_at"]["format"], "date-time");
        assert_eq!(schemas["Charge"]["properties"]["created_at"]["type"], "string");
        assert_eq!(schemas["ChargeStatus"]["enum"].as_array().unwrap().len(), inkan_core::ChargeStatus::ALL.len());
        assert!(schemas["ChargeStatus"]["enum"].as_array().unwrap().contains(&serde_json::json!("held_for_review")));
        assert_eq!(schemas["CreateCharge"]["additionalProperties"], false);
        assert_eq!(schemas["RegistrationChallenge"]["properties"]["public_key"]["type"], "object");
    }

    /// Checks `value` against `schema` for the keywords this document uses: `$ref`, `oneOf`, `type`,
    /// `enum`, `properties`, `required`, `additionalProperties: false`, `items`, `minimum`, `pattern`
    /// (only the hex and base64url ones) and `format: date-time`.
    fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            return conforms(doc, &doc["components"]["schemas"][name], value, at);
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let matching = options.iter().filter(|o| conforms(doc, o, value, at).is_ok()).count();
            return if matching == 1 { Ok(()) } else { Err(format!("{at}: {matching} of oneOf match {value}")) };
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let type_ok = |t: &str| match t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
        if let (Some(minimum), Some(n)) = (schema["minimum"].as_i64(), value.as_i64())
            && n < minimum
        {
            return Err(format!("{at}: {n} < {minimum}"));
        }
        if let Some(text) = value.as_str() {
            let ok = match schema["pattern"].as_str() {
                Some(hex @ ("^[0-9a-f]{32}$" | "^[0-9a-f]{16}$")) => {
                    let len = if hex.contains("32") { 32 } else { 16 };
                    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                }
                Some("^[A-Za-z0-9_-]*$") => text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                Some(other) => return Err(format!("{at}: the test does not know the pattern {other}")),
                None => true,
            };
            if !ok {
                return Err(format!("{at}: {text:?} does not match {}", schema["pattern"]));
            }
            if schema["format"] == "date-time"
                && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_err()
            {
                return Err(format!("{at}: {text:?} is not RFC 3339"));
            }
        }
        if let Some(object) = value.as_object() {
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap_or_default();
                if !object.contains_key(key) {
                    return Err(format!("{at}: required {key} is missing"));
                }
            }
            for (key, field) in object {
                match schema["properties"].get(key) {
                    Some(property) => conforms(doc, property, field, &format!("{at}.{key}"))?,
                    None if schema["additionalProperties"] == false => {
                        return Err(format!("{at}: {key} is not a property"));
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
            for (i, item) in values.iter().enumerate() {
                conforms(doc, items, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn assert_conforms<T: serde::Serialize>(doc: &Value, schema: &str, value: &T) {
        let json = serde_json::to_value(value).unwrap();
        let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        if let Err(e) = conforms(doc, &reference, &json, schema) {
            panic!("{schema} as serialized does not match its schema: {e}\n{json}");
        }
    }

    #[test]
    fn serialized_values_match_their_schemas() {
        use inkan_api::feed::{FeedEvent, History, Notice};
        use inkan_api::merchant::{Charge, CreateCharge};
        use inkan_api::wallet::{
            Card, CardStatus, Device, Limits, NewDevice, Session, TopUpResult, TopUpStatus, Wallet,
        };
        use inkan_api::{ApiError, Base64Url, ErrorBody};
        use inkan_core::limits::PendingRaise;
        use inkan_core::payment_code::DeviceKeyId;
        use inkan_core::{ChargeStatus, Currency, LimitPolicy, Money, Spending};

        let doc = document_json();
        // The checker itself refuses what serde would never produce.
        let schema = |name: &str| serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        for (name, wrong) in [
            ("Money", serde_json::json!({"minor": 1, "currency": "JPY"})),
            ("Money", serde_json::json!({"amount": 1, "currency": "USD"})),
            ("DeviceKeyId", serde_json::json!("AB")),
            ("Base64Url", serde_json::json!("a+b/")),
            ("PendingRaise", serde_json::json!({"policy": {}, "effective_at": 1})),
        ] {
            assert!(conforms(&doc, &schema(name), &wrong, name).is_err(), "{name} accepted {wrong}");
        }
        let now = time::OffsetDateTime::now_utc();
        let charge = |decided: Option<time::OffsetDateTime>, description: Option<&str>| Charge {
            id: "ch_1".to_owned(),
            status: ChargeStatus::PendingConfirmation,
            amount: 1280,
            currency: Currency::Jpy,
            description: description.map(str::to_owned),
            merchant_id: "mer_1".to_owned(),
            merchant_name: "FamilyMart".to_owned(),
            created_at: now,
            expires_at: now,
            decided_at: decided,
            refunded_at: None,
        };
        assert_conforms(&doc, "Charge", &charge(None, None));
        assert_conforms(&doc, "Charge", &charge(Some(now), Some("coffee")));
        let create =
            CreateCharge { payment_code: "X".to_owned(), amount: 1, currency: Currency::Jpy, description: None };
        assert_conforms(&doc, "CreateCharge", &create);

        let policy = LimitPolicy::new(Money::yen(30_000), Money::yen(50_000), Money::yen(200_000)).unwrap();
        let spending = Spending { today: Money::yen(0), this_month: Money::yen(1280) };
        for pending in [None, Some(PendingRaise { policy, effective_at: now })] {
            let limits = Limits { current: policy, pending, spending, remaining: Money::yen(30_000) };
            let wallet = Wallet {
                account_id: "acct_1".to_owned(),
                display_name: "Hanako".to_owned(),
                balance: Money::yen(-5),
                frozen: false,
                held: None,
                limits,
            };
            assert_conforms(&doc, "Wallet", &wallet);
        }

        let key_id = DeviceKeyId::from_bytes([0xab; 16]);
        let device = Device {
            id: "dev_1".to_owned(),
            key_id,
            name: "Pixel".to_owned(),
            active: true,
            enrolled_at: now,
            passkey_added_at: Some(now),
        };
        assert_conforms(&doc, "Device", &device);
        assert_conforms(&doc, "Device", &Device { passkey_added_at: None, ..device.clone() });
        let new_device = NewDevice {
            key_id,
            public_key: Base64Url(vec![4, 250, 251, 252]),
            name: "Pixel".to_owned(),
            proof: Base64Url(vec![0xff; 70]),
        };
        assert_conforms(&doc, "NewDevice", &new_device);
        let session = Session {
            token: "ses_x".to_owned(),
            account_id: "acct_1".to_owned(),
            idle_timeout_seconds: 300,
            max_lifetime_seconds: 43_200,
            payment_code: inkan_api::wallet::PaymentCodeKeys {
                index: inkan_core::payment_code::v2::DeviceIndex::new(0x0123_4567_89ab_cdef).unwrap(),
                code_key: Base64Url(vec![1; 32]),
                approval_key: Base64Url(vec![2; 32]),
                seal_key_id: 1,
                seal_key: Base64Url(vec![3; 32]),
            },
        };
        assert_conforms(&doc, "Session", &session);
        let card = Card {
            id: "card_1".to_owned(),
            brand: "visa".to_owned(),
            last4: "4242".to_owned(),
            status: CardStatus::ChallengeRequired,
        };
        assert_conforms(&doc, "Card", &card);
        let top_up = TopUpResult {
            id: "top_1".to_owned(),
            status: TopUpStatus::Pending,
            amount: Money::yen(1000),
            balance: Money::yen(0),
        };
        assert_conforms(&doc, "TopUpResult", &top_up);

        for (device_name, device_fingerprint) in [(None, None), (Some("Pixel"), Some("9BDA-95BD-A1EF-8F1B"))] {
            use inkan_api::devices::{Join, JoinState};
            let join = Join {
                join_id: "join_1".to_owned(),
                state: JoinState::AwaitingApproval,
                device_name: device_name.map(str::to_owned),
                device_fingerprint: device_fingerprint.map(str::to_owned),
                expires_at: now,
            };
            assert_conforms(&doc, "Join", &join);
        }

        for code in every_error_code() {
            let body = ErrorBody { error: ApiError::new(code, "m") };
            assert_conforms(&doc, "ErrorBody", &body);
        }

        let notices = [
            Notice::ChargeDeclined {
                charge_id: "ch_1".to_owned(),
                amount: 1,
                currency: "JPY".to_owned(),
                merchant_name: "m".to_owned(),
                not_me: true,
            },
            Notice::SignedIn { device_id: None },
            Notice::SignedIn { device_id: Some("dev_1".to_owned()) },
            Notice::LimitsRaiseRequested { per_charge: 1, daily: 2, monthly: 3, effective_at: now },
            Notice::WalletUnfrozen,
            Notice::AccountHeld { reason: "r".to_owned() },
            Notice::AccountReleased,
            Notice::RecoveryCodeUsed { remaining: 9 },
            Notice::RecoveryCodesReplaced { count: 10 },
            Notice::RecoveryCodeRejected,
            Notice::CardVerificationFailed { last4: "4242".to_owned(), locked: true },
            Notice::PasskeyRejected { device_id: Some("dev_1".to_owned()), during: "sign_in".to_owned() },
            Notice::PasskeyRejected { device_id: None, during: "payment".to_owned() },
            Notice::PasskeyAdded { device_id: "dev_1".to_owned() },
            Notice::PasskeyRemoved { device_id: "dev_1".to_owned(), count: 1 },
            Notice::SessionsEnded { count: 2, reason: "device_removed".to_owned() },
            Notice::DeviceJoinRequested {
                join_id: None,
                name: "n".to_owned(),
                fingerprint: Some("9BDA-95BD-A1EF-8F1B".to_owned()),
            },
            Notice::DeviceJoinRequested { join_id: Some("join_1".to_owned()), name: "n".to_owned(), fingerprint: None },
            Notice::RegionRefused { during: "sign_in".to_owned(), country: Some("US".to_owned()) },
            Notice::RegionRefused { during: "payment".to_owned(), country: None },
            Notice::TriesRunningOut { secret: "passkey".to_owned(), left: 1 },
            Notice::TriesLocked {
                secret: "recovery_code".to_owned(),
                until: Some(time::macros::datetime!(2026-12-05 12:30 UTC)),
            },
            Notice::TriesLocked { secret: "card".to_owned(), until: None },
            Notice::ChargeHeld {
                charge_id: "ch_1".to_owned(),
                amount: 25_000,
                currency: "JPY".to_owned(),
                merchant_name: "m".to_owned(),
                reason: "new_device_first_charge".to_owned(),
            },
            Notice::ChargeReviewDeclined {
                charge_id: "ch_1".to_owned(),
                amount: 25_000,
                currency: "JPY".to_owned(),
                merchant_name: "m".to_owned(),
            },
        ];
        let mut events = Vec::new();
        for (seq, notice) in (1..).zip(&notices) {
            assert_conforms(&doc, "Notice", notice);
            let payload = serde_json::to_string(notice).unwrap();
            let signature = (seq % 2 == 0).then(|| inkan_api::feed::HeadSignature {
                key_id: "0123456789abcdef".to_owned(),
                signature: inkan_api::Base64Url(vec![7; 64]),
            });
            events.push(FeedEvent { seq, at: now, payload, hash: "00".repeat(32), signature });
        }
        assert_conforms(&doc, "History", &History { account_id: "acct_1".to_owned(), events });
        let (issuer, _) = crate::issuer::Issuer::generate(&ring::rand::SystemRandom::new()).unwrap();
        assert_conforms(&doc, "IssuerKeys", &issuer.published());
        assert_conforms(&doc, "Unlocked", &inkan_api::admin::Unlocked { unlocked: true });
        let flags = inkan_api::admin::CardFlags {
            flags: vec![inkan_api::admin::CardFlag {
                fingerprint: "ab12".to_owned(),
                brand: "visa".to_owned(),
                last4: "4242".to_owned(),
                accounts: vec![inkan_api::admin::FlaggedAccount {
                    account_id: "acct_1".to_owned(),
                    status: "refused".to_owned(),
                    added_at: time::macros::datetime!(2026-12-05 12:00 UTC),
                }],
            }],
        };
        assert_conforms(&doc, "CardFlags", &flags);
        let trail = inkan_api::admin::AuditTrail {
            entries: vec![inkan_api::admin::AuditEntry {
                id: 1,
                at: time::macros::datetime!(2026-12-05 12:00 UTC),
                operator_id: "op_1".to_owned(),
                action: "hold".to_owned(),
                subject: "acct_1".to_owned(),
                reason: "fraud check".to_owned(),
            }],
        };
        assert_conforms(&doc, "AuditTrail", &trail);
        let unlock = inkan_api::admin::Unlock {
            account: None,
            device: None,
            address: Some("203.0.113.9".to_owned()),
            card_number: None,
            reason: Some("the shop's NAT: confirmed with the shop".to_owned()),
        };
        assert_conforms(&doc, "Unlock", &unlock);
        let held = inkan_api::admin::HeldCharges {
            charges: vec![inkan_api::admin::HeldCharge {
                charge_id: "ch_1".to_owned(),
                account_id: "acct_1".to_owned(),
                device_id: "dev_1".to_owned(),
                merchant_id: "mer_1".to_owned(),
                merchant_name: "m".to_owned(),
                terminal_country: "JP".to_owned(),
                amount: 25_000,
                currency: "JPY".to_owned(),
                reason: "many_charges".to_owned(),
                created_at: time::macros::datetime!(2026-12-05 12:00 UTC),
                expires_at: time::macros::datetime!(2026-12-05 12:10 UTC),
            }],
        };
        assert_conforms(&doc, "HeldCharges", &held);
        assert_conforms(
            &doc,
            "ReviewDecision",
            &inkan_api::admin::ReviewDecision { reason: "known shopper".to_owned() },
        );
    }

    /// Every variant of [`ErrorCode`]. The `match` below stops compiling when one is added, so
    /// whoever adds it comes here and adds it to this list too.
    fn every_error_code() -> Vec<ErrorCode> {
        use ErrorCode::*;
        let all = vec![
            PaymentCodeInvalid,
            PaymentCodeExpired,
            PaymentCodeUsed,
            LimitExceeded,
            InsufficientFunds,
            WalletFrozen,
            ChargesSuspended,
            TopUpsSuspended,
            EnrolmentSuspended,
            AccountHeld,
            RegionBlocked,
            Unauthorized,
            Forbidden,
            InvalidRequest,
            PayloadTooLarge,
            IdempotencyConflict,
            NotFound,
            InvalidState,
            PasskeyRejected,
            StepUpRequired,
            CeremonyExpired,
            CardDeclined,
            CardLocked,
            AttemptsLocked,
            DeviceRevoked,
            UnfreezeNotAllowed,
            TooManyRequests,
            RequestTimeout,
            Overloaded,
            Internal,
        ];
        for code in &all {
            match code {
                PaymentCodeInvalid | PaymentCodeExpired | PaymentCodeUsed | LimitExceeded | InsufficientFunds
                | WalletFrozen | ChargesSuspended | TopUpsSuspended | EnrolmentSuspended | AccountHeld
                | RegionBlocked | Unauthorized | Forbidden | InvalidRequest | PayloadTooLarge | IdempotencyConflict
                | NotFound | InvalidState | PasskeyRejected | StepUpRequired | CeremonyExpired | CardDeclined
                | CardLocked | AttemptsLocked | DeviceRevoked | UnfreezeNotAllowed | TooManyRequests
                | RequestTimeout | Overloaded | Internal => {}
            }
        }
        all
    }

    #[test]
    fn the_error_code_schema_lists_every_code() {
        let doc = document_json();
        let schema = &doc["components"]["schemas"]["ErrorCode"];
        let listed: BTreeSet<String> =
            schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        let expected: BTreeSet<String> = every_error_code().into_iter().map(ErrorCode::as_str).collect();
        assert_eq!(expected.len(), every_error_code().len());
        assert_eq!(listed, expected);
        assert_eq!(
            doc["components"]["schemas"]["ApiError"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
    }
}
