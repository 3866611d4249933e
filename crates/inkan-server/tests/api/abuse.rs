//! Issue 15: abuse defences. Each test is an attack that got through before: one wallet taking
//! every stream, a long-poll hidden behind percent-encoding, a body trickled to hold a place, and
//! dead ceremonies, sessions and joins piling up without end.

use std::time::Duration as StdDuration;

use inkan_api::ErrorCode;
use inkan_api::devices::BeginJoin;
use reqwest::StatusCode;
use time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{self, Backend, FeedReader, Shopper, TestServer, error, json};

support::on_both_databases!(
    one_wallet_cannot_take_every_stream,
    an_encoded_wait_is_a_long_poll,
    a_body_trickled_byte_by_byte_gets_408,
    a_request_that_takes_too_long_gets_408_and_keeps_nothing,
    expired_ceremonies_sessions_and_joins_are_swept,
    a_trusted_edge_abroad_is_refused_on_every_guarded_flow,
    an_untrusted_peer_s_country_and_address_are_not_believed,
    a_terminal_abroad_cannot_take_a_payment,
    fifty_join_requests_make_three_and_unknown_ids_answer_alike,
    sign_in_requests_for_unknown_devices_look_like_real_ones,
    sign_ins_recovery_codes_and_cards_are_rate_limited,
    a_card_number_guessed_across_wallets_is_locked,
    the_operator_lifts_card_locks_over_http_and_refuses_bad_input,
    card_guesses_from_one_address_are_locked_for_an_hour,
    a_card_verified_in_one_wallet_is_declined_in_another_and_flagged,
);

/// A server behind a proxy on this machine (127.0.0.1) that names countries in `CF-IPCountry`.
pub(super) fn behind_an_edge() -> inkan_server::Settings {
    let mut settings = support::settings();
    settings.edge = inkan_core::region::Edge {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        country_header: Some("cf-ipcountry".to_owned()),
    };
    settings
}

/// Sends `body` to `path` as if through the edge, with its headers.
async fn via_edge(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &impl serde::Serialize,
) -> reqwest::Response {
    let mut request = server.http.post(format!("{}{path}", server.url)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// As [`via_edge`], from `address` in Japan.
pub(super) async fn from_japan(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    address: &str,
    body: &impl serde::Serialize,
) -> reqwest::Response {
    via_edge(server, path, token, &[("x-forwarded-for", address), ("cf-ipcountry", "JP")], body).await
}

async fn blocked(response: reqwest::Response) {
    let message = error(response, StatusCode::FORBIDDEN, ErrorCode::RegionBlocked).await;
    assert!(message.contains("licensed"), "one stable message: {message}");
}

fn region_refusals(notices: &[inkan_api::feed::Notice]) -> Vec<(String, Option<String>)> {
    notices
        .iter()
        .filter_map(|n| match n {
            inkan_api::feed::Notice::RegionRefused { during, country } => Some((during.clone(), country.clone())),
            _ => None,
        })
        .collect()
}

/// 520 feeds asked for by one wallet: it gets its 8, every other one `429` with `Retry-After`,
/// and a terminal's long-poll is still served.
async fn one_wallet_cannot_take_every_stream(backend: Backend) {
    let server = TestServer::start(backend).await;
    let till = server.merchant("Lawson Ebisu").await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    shopper.top_up(&server, 10_000).await;
    let per_account = server.settings().load.max_feeds_per_account;
    let mut feeds = Vec::new();
    for _ in 0..per_account {
        feeds.push(FeedReader::open(&server, &shopper.token, None).await);
    }
    for _ in per_account..520 {
        let response = server.get("/v1/wallet/feed", Some(&shopper.token)).await;
        let retry_after: u32 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry_after >= 1);
        error(response, StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests).await;
    }
    assert_eq!(*server.state.admission.open_streams().borrow(), per_account);
    // Another wallet still has its own share, and the terminal its long-poll.
    let other = Shopper::enroll(&server, "Hanako").await;
    let other_feed = FeedReader::open(&server, &other.token, None).await;
    let charge = till.charge_ok(&shopper.code(&server), 500).await;
    let poll = till.long_poll(&charge.id, "wait=30");
    let pending = shopper.pending(&server).await;
    let _: inkan_api::wallet::WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!(poll.await.unwrap().status, inkan_core::ChargeStatus::Succeeded);
    // A closed feed gives its place back.
    drop(feeds.pop());
    let mut reopened = None;
    for _ in 0..100 {
        let response = server.get("/v1/wallet/feed", Some(&shopper.token)).await;
        if response.status() == StatusCode::OK {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "the closed feed's place came back");
    drop((feeds, other_feed, reopened));
    server.stop().await;
}

/// `?wait=%36%30` is a wait of 60 s, as the handler reads it: it takes a stream's place, not a
/// short request's.
async fn an_encoded_wait_is_a_long_poll(backend: Backend) {
    let mut settings = support::settings();
    settings.load.max_open_streams = 1;
    let server = TestServer::start_with(backend, settings).await;
    let till = server.merchant("Lawson Ebisu").await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    shopper.top_up(&server, 10_000).await;
    let charge = till.charge_ok(&shopper.code(&server), 500).await;
    let poll = till.long_poll(&charge.id, "wait=%36%30");
    let mut streams = server.state.admission.open_streams();
    let counted = tokio::time::timeout(StdDuration::from_secs(10), streams.wait_for(|n| *n == 1)).await.is_ok();
    assert!(counted, "the encoded long-poll holds a stream's place");
    assert_eq!(*server.state.admission.requests_in_flight().borrow(), 0, "and no short request's");
    // The only stream place is taken: a second long-poll is refused; short requests pass.
    let second = server.http.get(format!("{}/v1/charges/{}?wait=5", server.url, charge.id)).bearer_auth(&till.key);
    error(second.send().await.unwrap(), StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded).await;
    let pending = shopper.pending(&server).await;
    let _: inkan_api::wallet::WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!(poll.await.unwrap().status, inkan_core::ChargeStatus::Succeeded);
    server.stop().await;
}

/// A client that sends its body one byte a second holds a request's place for the body timeout
/// at most, then gets `408 request_timeout`, and nothing is created.
async fn a_body_trickled_byte_by_byte_gets_408(backend: Backend) {
    let mut settings = support::settings();
    settings.load.body_timeout = StdDuration::from_millis(1_500);
    let server = TestServer::start_with(backend, settings).await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = br#"{"display_name":"Slow Loris"}"#;
    let head = format!(
        "POST /v1/accounts/registration HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let trickle = async {
        for byte in body {
            if socket.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(1_000)).await;
        }
    };
    let _ = tokio::time::timeout(StdDuration::from_secs(3), trickle).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(StdDuration::from_secs(5), socket.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert!(started.elapsed() < StdDuration::from_secs(8));
    assert_eq!(server.rows("ceremonies").await, 0, "nothing was kept");
    assert_eq!(*server.state.admission.requests_in_flight().borrow(), 0);
    server.stop().await;
}

/// A request that cannot be done within the request timeout (here it waits for a wallet's row that
/// another transaction holds) is answered `408 request_timeout`, frees its place, and leaves
/// nothing behind: the freeze it asked for never happens, even once the row is free.
async fn a_request_that_takes_too_long_gets_408_and_keeps_nothing(backend: Backend) {
    let mut settings = support::settings();
    settings.load.request_timeout = StdDuration::from_millis(500);
    let server = TestServer::start_with(backend, settings).await;
    let shopper = Shopper::enroll(&server, "Taro").await;
    // Another transaction takes the wallet's row (on SQLite, the one writer).
    let mut holder = server.state.db.begin().await.unwrap();
    sqlx::query("UPDATE accounts SET frozen = frozen WHERE id = $1")
        .bind(shopper.account_id())
        .execute(holder.conn())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let response = server.post("/v1/wallet/freeze", Some(&shopper.token), &serde_json::json!({})).await;
    let message = error(response, StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout).await;
    assert!(message.contains("nothing was kept"), "{message}");
    assert!(started.elapsed() < StdDuration::from_secs(5));
    holder.rollback().await.unwrap();
    assert_eq!(*server.state.admission.requests_in_flight().borrow(), 0);
    let wallet: inkan_api::wallet::Wallet =
        json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert!(!wallet.frozen, "the timed-out freeze was not kept");
    server.stop().await;
}

/// Ceremonies begun and never finished, ended sessions and joins long past their expiry are
/// deleted in the background; what is still alive is kept.
async fn expired_ceremonies_sessions_and_joins_are_swept(backend: Backend) {
    let mut settings = support::settings();
    settings.housekeeping_every = StdDuration::from_millis(100);
    let server = TestServer::start_with(backend, settings).await;
    let old = Shopper::enroll(&server, "Taro").await;
    // A sign-in begun and left, and a join asked for and left.
    let _ = old.sign_in_challenge(&server, &old.device_id).await;
    let join = server.post("/v1/device-joins", None, &BeginJoin { account_id: old.account_id().to_owned() }).await;
    assert_eq!(join.status(), StatusCode::CREATED);
    assert!(server.rows("ceremonies").await >= 1);
    assert_eq!((server.rows("sessions").await, server.rows("device_joins").await), (1, 1));

    server.advance(server.settings().session_max + Duration::minutes(1));
    let mut fresh = Shopper::enroll(&server, "Hanako").await;
    let _ = fresh.sign_in(&server).await;
    let swept = async {
        loop {
            let left =
                (server.rows("ceremonies").await, server.rows("sessions").await, server.rows("device_joins").await);
            if left == (0, 2, 0) {
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    };
    assert!(
        tokio::time::timeout(StdDuration::from_secs(10), swept).await.is_ok(),
        "left: {} ceremonies, {} sessions, {} joins",
        server.rows("ceremonies").await,
        server.rows("sessions").await,
        server.rows("device_joins").await
    );
    // The fresh wallet's sessions still work.
    let _: inkan_api::wallet::Wallet = json(server.get("/v1/wallet", Some(&fresh.token)).await, StatusCode::OK).await;
    server.stop().await;
}

/// Behind a trusted edge, a client it names as abroad (`CF-IPCountry: US`) is refused enrolment,
/// sign-in, a device join, a card, a top-up and a payment's confirmation, and nothing changes; a
/// client of no known country is refused too, unless it is this machine itself. The wallet hears
/// of each refusal that named it.
async fn a_trusted_edge_abroad_is_refused_on_every_guarded_flow(backend: Backend) {
    let server = TestServer::start_with(backend, behind_an_edge()).await;
    let till = server.merchant("Lawson Ebisu").await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    shopper.top_up(&server, 10_000).await;
    let us = [("cf-ipcountry", "US")];
    let jp = [("cf-ipcountry", "JP")];
    let (accounts, ceremonies, joins, cards) = (
        server.rows("accounts").await,
        server.rows("ceremonies").await,
        server.rows("device_joins").await,
        server.rows("cards").await,
    );

    let registration = inkan_api::wallet::BeginRegistration { display_name: "Mallory".to_owned() };
    blocked(via_edge(&server, "/v1/accounts/registration", None, &us, &registration).await).await;
    let sign_in = inkan_api::wallet::BeginSignIn {
        account_id: shopper.account_id().to_owned(),
        device_id: shopper.device_id.clone(),
    };
    blocked(via_edge(&server, "/v1/sessions/challenge", None, &us, &sign_in).await).await;
    // An account that does not exist is refused alike.
    let nobody = inkan_api::wallet::BeginSignIn { account_id: "acct_nobody".to_owned(), device_id: "dev_x".to_owned() };
    blocked(via_edge(&server, "/v1/sessions/challenge", None, &us, &nobody).await).await;
    let join = BeginJoin { account_id: shopper.account_id().to_owned() };
    blocked(via_edge(&server, "/v1/device-joins", None, &us, &join).await).await;
    let card = inkan_api::wallet::AddCard {
        number: "4242424242424242".to_owned(),
        exp_month: 12,
        exp_year: 2030,
        cvc: "123".to_owned(),
    };
    blocked(via_edge(&server, "/v1/wallet/cards", Some(&shopper.token), &us, &card).await).await;
    let top_up = inkan_api::wallet::TopUp { card_id: "card_x".to_owned(), amount: inkan_core::Money::yen(1_000) };
    blocked(via_edge(&server, "/v1/wallet/topups", Some(&shopper.token), &us, &top_up).await).await;
    let charge = till.charge_ok(&shopper.code(&server), 500).await;
    let pending = shopper.pending(&server).await;
    let confirm = shopper.sign_charge(&pending[0]);
    let path = format!("/v1/wallet/charges/{}/confirm", charge.id);
    blocked(via_edge(&server, &path, Some(&shopper.token), &us, &confirm).await).await;
    // No country named, from an address that is not this machine: refused as well.
    let elsewhere = [("x-forwarded-for", "203.0.113.9")];
    blocked(via_edge(&server, "/v1/accounts/registration", None, &elsewhere, &registration).await).await;

    assert_eq!(server.rows("accounts").await, accounts);
    assert_eq!(server.rows("ceremonies").await, ceremonies);
    assert_eq!(server.rows("device_joins").await, joins);
    assert_eq!(server.rows("cards").await, cards);
    assert_eq!(shopper.balance(&server).await, 10_000);
    let refusals = region_refusals(&shopper.notices(&server).await);
    let us = Some("US".to_owned());
    let expected: Vec<(String, Option<String>)> = ["sign_in", "device_join", "card", "top_up", "payment"]
        .into_iter()
        .map(|during| (during.to_owned(), us.clone()))
        .collect();
    assert_eq!(refusals, expected);

    // From Japan, through the same edge, the same confirmation pays.
    let response = via_edge(&server, &path, Some(&shopper.token), &jp, &confirm).await;
    let _: inkan_api::wallet::WalletCharge = json(response, StatusCode::OK).await;
    assert_eq!(shopper.balance(&server).await, 9_500);
    server.stop().await;
}

/// Without the edge in its list of trusted proxies, a peer's `CF-IPCountry` and `X-Forwarded-For`
/// are its own claims: ignored. The peer is the client (this machine, so admitted), and every
/// per-address limit keys on it.
async fn an_untrusted_peer_s_country_and_address_are_not_believed(backend: Backend) {
    let mut settings = behind_an_edge();
    settings.edge.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    let server = TestServer::start_with(backend, settings).await;
    let registration = inkan_api::wallet::BeginRegistration { display_name: "Taro".to_owned() };
    let headers = [("cf-ipcountry", "US"), ("x-forwarded-for", "203.0.113.9")];
    let response = via_edge(&server, "/v1/accounts/registration", None, &headers, &registration).await;
    let _: inkan_api::wallet::RegistrationChallenge = json(response, StatusCode::OK).await;
    // Nor does a claimed Japanese country let a denied unknown in.
    let mut strict = behind_an_edge();
    strict.edge.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    strict.region.unknown = inkan_core::region::UnknownCountry::Deny;
    let strict = TestServer::start_with(backend, strict).await;
    let response = via_edge(&strict, "/v1/accounts/registration", None, &[("cf-ipcountry", "JP")], &registration).await;
    blocked(response).await;
    strict.stop().await;
    server.stop().await;
}

/// A genuine payment code shown to a terminal configured for a country that is not served is
/// refused, uses up nothing, and the shopper hears of it.
async fn a_terminal_abroad_cannot_take_a_payment(backend: Backend) {
    let server = TestServer::start(backend).await;
    let abroad = server.merchant_in("Duty Free Honolulu", "US").await;
    let home = server.merchant("Lawson Ebisu").await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    shopper.top_up(&server, 10_000).await;
    let code = shopper.code(&server);
    blocked(abroad.charge(&code, 500).await).await;
    assert_eq!(server.charge_count().await, 0);
    let refusals = region_refusals(&shopper.notices(&server).await);
    assert_eq!(refusals, vec![("payment".to_owned(), Some("US".to_owned()))]);
    // The shopper's next code pays at home.
    let _ = home.charge_ok(&shopper.code(&server), 500).await;
    server.stop().await;
}

/// Statuses of `n` join requests for `account_id` from the address `from` (through the edge).
async fn join_requests(server: &TestServer, account_id: &str, from: &str, n: usize) -> (Vec<u16>, Vec<String>) {
    let (mut statuses, mut joins) = (Vec::new(), Vec::new());
    let body = BeginJoin { account_id: account_id.to_owned() };
    for _ in 0..n {
        let response = from_japan(server, "/v1/device-joins", None, from, &body).await;
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::CREATED {
            let join: inkan_api::devices::Join = json(response, StatusCode::CREATED).await;
            assert_eq!(join.state, inkan_api::devices::JoinState::AwaitingDevice);
            joins.push(join.join_id);
        } else {
            assert!(response.headers().contains_key("retry-after"));
            error(response, StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests).await;
        }
    }
    (statuses, joins)
}

/// A device submits its key to each join: what the wallet's owner would be asked to approve.
async fn submit_devices(server: &TestServer, joins: &[String]) -> Vec<inkan_api::devices::Join> {
    let mut submitted = Vec::new();
    for join_id in joins {
        let device = Shopper::new();
        let body = inkan_api::devices::SubmitDevice { device: device.new_device(join_id), recovery_code: None };
        let response = server.post(&format!("/v1/device-joins/{join_id}/device"), None, &body).await;
        submitted.push(json(response, StatusCode::OK).await);
    }
    submitted
}

/// Approval fatigue: 50 join requests for one wallet from one address. The address's and the
/// wallet's limits refuse most, at most 3 wait at once, and the owner hears of 3 devices at most.
/// The same 50 for an id that is no wallet, from another address, get exactly the same answers.
async fn fifty_join_requests_make_three_and_unknown_ids_answer_alike(backend: Backend) {
    let server = TestServer::start_with(backend, behind_an_edge()).await;
    let owner = Shopper::enroll(&server, "Taro").await;
    let (known, joins) = join_requests(&server, owner.account_id(), "203.0.113.1", 50).await;
    assert_eq!(joins.len(), 3, "{known:?}");
    assert_eq!(known.iter().filter(|s| **s == 429).count(), 47);
    let submitted = submit_devices(&server, &joins).await;
    let asked = owner
        .notices(&server)
        .await
        .into_iter()
        .filter(|n| matches!(n, inkan_api::feed::Notice::DeviceJoinRequested { .. }))
        .count();
    assert_eq!(asked, 3);

    let (unknown, decoys) = join_requests(&server, "acct_00000000000000000000000000000000", "203.0.113.2", 50).await;
    assert_eq!(unknown, known, "an id that is no wallet is answered exactly as a wallet's");
    let decoys = submit_devices(&server, &decoys).await;
    for (real, decoy) in submitted.iter().zip(&decoys) {
        assert_eq!((real.state, &real.device_name), (decoy.state, &decoy.device_name));
    }
    // Ten minutes on, the requests have expired and new ones may wait.
    server.advance(Duration::minutes(11));
    let (later, _) = join_requests(&server, owner.account_id(), "203.0.113.3", 1).await;
    assert_eq!(later, vec![201]);
    server.stop().await;
}

/// A sign-in asked for a device that does not exist (an unknown wallet, or an unknown device of a
/// real one) gets a request shaped like a real one, with the same credential id each time; and
/// finishing it fails as a real one fails without the device.
async fn sign_in_requests_for_unknown_devices_look_like_real_ones(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    let begin = |account: &str, device: &str| inkan_api::wallet::BeginSignIn {
        account_id: account.to_owned(),
        device_id: device.to_owned(),
    };
    let challenge = |body: inkan_api::wallet::BeginSignIn| {
        let server = &server;
        async move {
            let response = server.post("/v1/sessions/challenge", None, &body).await;
            let challenge: inkan_api::wallet::AssertionChallenge = json(response, StatusCode::OK).await;
            serde_json::to_value(&challenge.public_key).unwrap()
        }
    };
    let shape = |v: &serde_json::Value| {
        let options = &v["publicKey"];
        let credentials = options["allowCredentials"].as_array().unwrap();
        (
            options.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
            credentials.len(),
            credentials[0].as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
            options["userVerification"].clone(),
            options["rpId"].clone(),
            options["timeout"].clone(),
        )
    };
    let real = challenge(begin(shopper.account_id(), &shopper.device_id)).await;
    let unknown_wallet = challenge(begin("acct_00000000000000000000000000000000", "dev_1")).await;
    let unknown_device = challenge(begin(shopper.account_id(), "dev_00000000000000000000000000000000")).await;
    assert_eq!(shape(&unknown_wallet), shape(&real));
    assert_eq!(shape(&unknown_device), shape(&real));
    let again = challenge(begin("acct_00000000000000000000000000000000", "dev_1")).await;
    let id = |v: &serde_json::Value| v["publicKey"]["allowCredentials"][0]["id"].clone();
    assert_eq!(id(&again), id(&unknown_wallet), "the same ids get the same stand-in, as a real device would");
    assert_ne!(id(&unknown_device), id(&unknown_wallet));
    assert_ne!(again["publicKey"]["challenge"], unknown_wallet["publicKey"]["challenge"]);

    // Finishing: a real request answered without the device's key, and a stand-in, fail alike.
    let response = shopper.sign_in_challenge(&server, &shopper.device_id.clone()).await;
    let mut answer = shopper.sign_in_answer(json(response, StatusCode::OK).await);
    let real_ceremony = answer.ceremony_id.clone();
    let stand_in = server.post("/v1/sessions/challenge", None, &begin(shopper.account_id(), "dev_nope")).await;
    let stand_in: inkan_api::wallet::AssertionChallenge = json(stand_in, StatusCode::OK).await;
    answer.ceremony_id = stand_in.ceremony_id;
    let decoy_refusal =
        error(server.post("/v1/sessions", None, &answer).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
            .await;
    answer.ceremony_id = real_ceremony;
    answer.device_signature.0[0] ^= 1;
    let real_refusal =
        error(server.post("/v1/sessions", None, &answer).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
            .await;
    assert_eq!(decoy_refusal, real_refusal);
    // The real request still works from the device itself.
    let _ = shopper.sign_in(&server).await;
    server.stop().await;
}

/// Sign-ins are limited per wallet from however many addresses; recovery-code tries per wallet
/// (each wrong one a notice, the refused ones none); cards per wallet.
async fn sign_ins_recovery_codes_and_cards_are_rate_limited(backend: Backend) {
    let server = TestServer::start_with(backend, behind_an_edge()).await;
    let shopper = Shopper::enroll(&server, "Taro").await;
    let per_account = server.settings().rate_limits.sign_in.per_account.burst;
    let body = inkan_api::wallet::BeginSignIn {
        account_id: shopper.account_id().to_owned(),
        device_id: shopper.device_id.clone(),
    };
    for i in 0..per_account {
        let from = format!("198.51.100.{}", i + 1);
        let response = from_japan(&server, "/v1/sessions/challenge", None, &from, &body).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-in {i}");
    }
    let response = from_japan(&server, "/v1/sessions/challenge", None, "198.51.100.200", &body).await;
    error(response, StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests).await;

    let wrong = inkan_api::devices::FreezeWithRecoveryCode { recovery_code: "2222-2222-2222-2222".to_owned() };
    let path = format!("/v1/accounts/{}/freeze", shopper.account_id());
    let tries = server.settings().rate_limits.recovery_code.per_account.burst;
    for i in 0..tries {
        let from = format!("192.0.2.{}", i + 1);
        let response = from_japan(&server, &path, None, &from, &wrong).await;
        error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    }
    let response = from_japan(&server, &path, None, "192.0.2.200", &wrong).await;
    error(response, StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests).await;
    let rejected = shopper
        .notices(&server)
        .await
        .into_iter()
        .filter(|n| matches!(n, inkan_api::feed::Notice::RecoveryCodeRejected))
        .count();
    assert_eq!(u32::try_from(rejected).unwrap(), tries, "a refused try is no notice");

    let card = inkan_api::wallet::AddCard {
        number: "4000000000000002".to_owned(),
        exp_month: 12,
        exp_year: 2030,
        cvc: "123".to_owned(),
    };
    let cards = server.settings().rate_limits.card.per_account.burst;
    let mut limited = false;
    for _ in 0..=cards {
        let response = server.post("/v1/wallet/cards", Some(&shopper.token), &card).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "card registrations are limited");
    // The limits refill with time.
    server.advance(Duration::hours(1));
    let response = from_japan(&server, "/v1/sessions/challenge", None, "198.51.100.201", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

fn card(number: &str) -> inkan_api::wallet::AddCard {
    inkan_api::wallet::AddCard { number: number.to_owned(), exp_month: 12, exp_year: 2030, cvc: "123".to_owned() }
}

/// Adds a card to `shopper`'s wallet from the address `from`, and returns the answer's status and
/// error code (if any).
async fn add_card_from(server: &TestServer, shopper: &Shopper, from: &str, number: &str) -> (u16, Option<ErrorCode>) {
    let response = from_japan(server, "/v1/wallet/cards", Some(&shopper.token), from, &card(number)).await;
    let status = response.status().as_u16();
    if status < 400 {
        return (status, None);
    }
    (status, Some(response.json::<inkan_api::ErrorBody>().await.unwrap().error.code))
}

/// PayPay's lesson: five wrong tries of one card number spread over three fresh wallets (each on
/// its own device and address) lock that number everywhere: the sixth try, on a fourth wallet, is
/// refused, however the number is written. Other cards still work there.
async fn a_card_number_guessed_across_wallets_is_locked(backend: Backend) {
    let mut settings = behind_an_edge();
    settings.rate_limits = settings.rate_limits.scaled(1000);
    let server = TestServer::start_with(backend, settings).await;
    let stolen = "4000000000000002";
    let declined = (402, Some(ErrorCode::CardDeclined));
    for (i, tries) in [2, 2, 1].into_iter().enumerate() {
        let thief = Shopper::enroll(&server, &format!("Mule {i}")).await;
        for _ in 0..tries {
            assert_eq!(add_card_from(&server, &thief, &format!("198.51.100.{}", i + 1), stolen).await, declined);
        }
    }
    let fourth = Shopper::enroll(&server, "Mule 4").await;
    let locked = add_card_from(&server, &fourth, "198.51.100.4", "4000 0000 0000 0002").await;
    assert_eq!(locked, (403, Some(ErrorCode::CardLocked)));
    let response = from_japan(&server, "/v1/wallet/cards", Some(&fourth.token), "198.51.100.5", &card(stolen)).await;
    let message = error(response, StatusCode::FORBIDDEN, ErrorCode::CardLocked).await;
    assert!(message.contains("this card"), "{message}");
    assert_eq!(add_card_from(&server, &fourth, "198.51.100.4", "4242424242424242").await, (201, None));
    // The operator lifts the number's lock (as `admin unlock --card-number` does, keyed alike).
    let key = inkan_server::tries::card_number_key(&server.state.issuer, "4000-0000-0000-0002");
    let against = inkan_core::attempts::Against::CardNumber;
    let by = inkan_server::attempts::Unlocker { operator_id: inkan_server::audit::COMMAND_LINE, reason: "" };
    let now = time::OffsetDateTime::now_utc();
    assert!(inkan_server::attempts::unlock(&server.state.db, against, &key, by, now).await.unwrap());
    assert_eq!(add_card_from(&server, &fourth, "198.51.100.6", stolen).await, declined);
    server.stop().await;
}

/// Runs `inkan-server admin unlock ARGS` on the server's database.
fn admin_unlock_output(server: &TestServer, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_inkan-server"))
        .args(["--database", server.db_url(), "admin", "unlock"])
        .args(args)
        .env_remove("INKAN_ISSUER_KEY")
        .output()
        .unwrap()
}

/// As [`admin_unlock_output`], which must succeed: what it printed.
fn admin_unlock(server: &TestServer, args: &[&str]) -> String {
    let output = admin_unlock_output(server, args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Five wrong cards from one address, over three wallets, lock card registration from that address
/// (not from others) until an hour has passed without another failure. One device's five
/// failures lock it too.
async fn card_guesses_from_one_address_are_locked_for_an_hour(backend: Backend) {
    let mut settings = behind_an_edge();
    settings.rate_limits = settings.rate_limits.scaled(1000);
    let server = TestServer::start_with(backend, settings).await;
    // Luhn-valid numbers the sandbox declines.
    let numbers = ["4000000000000002", "4111111111111111", "5105105105105100", "4012888888881881", "4222222222222"];
    let here = "203.0.113.77";
    let wallets =
        [Shopper::enroll(&server, "A").await, Shopper::enroll(&server, "B").await, Shopper::enroll(&server, "C").await];
    for (i, number) in numbers.iter().enumerate() {
        let (status, code) = add_card_from(&server, &wallets[i % 3], here, number).await;
        assert_eq!((status, code), (402, Some(ErrorCode::CardDeclined)), "{number}");
    }
    let fresh = Shopper::enroll(&server, "D").await;
    assert_eq!(add_card_from(&server, &fresh, here, "4242424242424242").await, (403, Some(ErrorCode::CardLocked)));
    assert_eq!(add_card_from(&server, &fresh, "203.0.113.78", "4242424242424242").await, (201, None));
    // The operator lifts the address's lock; its next failures count from zero.
    assert_eq!(admin_unlock(&server, &["--address", here]), format!("unlocked address {here}"));
    assert_eq!(admin_unlock(&server, &["--address", here]), format!("no failures on record for address {here}"));
    // One thing at a time, and a card number only with the key that keys it.
    for bad in [&[][..], &["--device", "dev_1", "--address", here][..], &["--card-number"][..]] {
        assert!(!admin_unlock_output(&server, bad).status.success(), "{bad:?}");
    }
    assert_eq!(add_card_from(&server, &fresh, here, numbers[0]).await.1, Some(ErrorCode::CardDeclined));
    server.advance(Duration::minutes(61));
    let later = Shopper::enroll(&server, "E").await;
    assert_eq!(add_card_from(&server, &later, here, "5555555555554444").await, (201, None));

    // One device (here its wallet's only one), five failures from five addresses: locked.
    let device = Shopper::enroll(&server, "F").await;
    for (i, number) in numbers.iter().enumerate() {
        let from = format!("192.0.2.{}", 10 + i);
        assert_eq!(add_card_from(&server, &device, &from, number).await.1, Some(ErrorCode::CardDeclined));
    }
    assert_eq!(add_card_from(&server, &device, "192.0.2.99", "4242424242424242").await.1, Some(ErrorCode::CardLocked));
    server.stop().await;
}

/// `POST /v1/admin/unlock`: an operator key lifts an address's lock and a card number's (given in
/// any spelling); anything but exactly one well-formed subject, or no operator key, is refused and
/// changes nothing.
async fn the_operator_lifts_card_locks_over_http_and_refuses_bad_input(backend: Backend) {
    use inkan_api::admin::{Unlock, Unlocked};
    let mut settings = behind_an_edge();
    settings.rate_limits = settings.rate_limits.scaled(1000);
    let server = TestServer::start_with(backend, settings).await;
    let key = server.operator_key().await;
    let shopper = Shopper::enroll(&server, "Taro").await;
    let here = "203.0.113.50";
    for number in ["4000000000000002", "4111111111111111", "5105105105105100"] {
        assert_eq!(add_card_from(&server, &shopper, here, number).await.1, Some(ErrorCode::CardDeclined));
    }
    let (account, device, address, card_number) = (None, None, None, None);
    let none = Unlock { account, device, address, card_number, reason: None };
    let with = |f: &dyn Fn(&mut Unlock)| {
        let mut body = none.clone();
        f(&mut body);
        body
    };
    let counters = server.rows("attempt_counters").await;
    for bad in [
        none.clone(),
        with(&|b| {
            b.device = Some(shopper.device_id.clone());
            b.address = Some(here.to_owned());
        }),
        with(&|b| b.address = Some("not an address".to_owned())),
        with(&|b| b.card_number = Some("4000".to_owned())),
        with(&|b| b.card_number = Some("4000x00000000002".to_owned())),
        with(&|b| b.device = Some("d".repeat(65))),
        with(&|b| b.device = Some(String::new())),
    ] {
        error(
            server.post("/v1/admin/unlock", Some(&key), &bad).await,
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
        )
        .await;
    }
    let address = with(&|b| b.address = Some(here.to_owned()));
    for token in [None, Some(shopper.token.as_str())] {
        error(
            server.post("/v1/admin/unlock", token, &address).await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
        )
        .await;
    }
    let unknown = serde_json::json!({"address": here, "also": 1});
    error(
        server.post("/v1/admin/unlock", Some(&key), &unknown).await,
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
    )
    .await;
    assert_eq!(server.rows("attempt_counters").await, counters, "a refused unlock changed nothing");

    let done: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &address).await, StatusCode::OK).await;
    assert!(done.unlocked);
    let again: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &address).await, StatusCode::OK).await;
    assert!(!again.unlocked);
    let number = with(&|b| b.card_number = Some("4000 0000-0000 0002".to_owned()));
    let done: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &number).await, StatusCode::OK).await;
    assert!(done.unlocked, "the number's counter, keyed as the server keys it");
    server.stop().await;
}

/// A stolen card list is used through fresh wallets: a card verified in one wallet is declined in
/// a second (without saying why), whether it is verified at once or after its code, and the
/// operator sees each such card with the wallets involved, over HTTP and with `admin flags`.
async fn a_card_verified_in_one_wallet_is_declined_in_another_and_flagged(backend: Backend) {
    use inkan_api::admin::CardFlags;
    use inkan_api::wallet::{Card, CardStatus, VerifyCard};
    let server = TestServer::start(backend).await;
    let (owner, mule, other) = (
        Shopper::enroll(&server, "Owner").await,
        Shopper::enroll(&server, "Mule").await,
        Shopper::enroll(&server, "Other").await,
    );
    let add = |shopper: &Shopper, number: &str| {
        let (token, body) = (shopper.token.clone(), card(number));
        let server = &server;
        async move { server.post("/v1/wallet/cards", Some(&token), &body).await }
    };
    let owners: Card = json(add(&owner, "4242424242424242").await, StatusCode::CREATED).await;
    assert_eq!(owners.status, CardStatus::Verified);
    let message =
        error(add(&mule, "4242 4242 4242 4242").await, StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined).await;
    assert!(!message.contains("wallet") && !message.contains("account"), "says nothing of the other wallet: {message}");
    let mules: Vec<Card> = json(server.get("/v1/wallet/cards", Some(&mule.token)).await, StatusCode::OK).await;
    assert_eq!(mules.iter().map(|c| c.status).collect::<Vec<_>>(), vec![CardStatus::Failed]);
    assert!(
        mule.notices(&server).await.iter().any(|n| matches!(n, inkan_api::feed::Notice::CardVerificationFailed { .. }))
    );

    // A card that needs its code: both wallets may wait for it, only the first verified keeps it.
    let first: Card = json(add(&owner, "4000000000003220").await, StatusCode::CREATED).await;
    let second: Card = json(add(&other, "4000000000003220").await, StatusCode::CREATED).await;
    let code = VerifyCard { code: "123456".to_owned() };
    let verify = |shopper: &Shopper, card: &Card| {
        let (token, path) = (shopper.token.clone(), format!("/v1/wallet/cards/{}/verify", card.id));
        let (server, code) = (&server, &code);
        async move { server.post(&path, Some(&token), code).await }
    };
    let verified: Card = json(verify(&owner, &first).await, StatusCode::OK).await;
    assert_eq!(verified.status, CardStatus::Verified);
    error(verify(&other, &second).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined).await;

    let key = server.operator_key().await;
    error(server.get("/v1/admin/flags", Some("not a key")).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    let flags: CardFlags = json(server.get("/v1/admin/flags", Some(&key)).await, StatusCode::OK).await;
    let mut seen: Vec<(String, Vec<(String, String)>)> = flags
        .flags
        .iter()
        .map(|f| (f.last4.clone(), f.accounts.iter().map(|a| (a.account_id.clone(), a.status.clone())).collect()))
        .collect();
    seen.sort();
    let id = |s: &Shopper| s.account_id().to_owned();
    let verified = "verified".to_owned();
    let refused = "refused".to_owned();
    assert_eq!(
        seen,
        vec![
            ("3220".to_owned(), vec![(id(&owner), verified.clone()), (id(&other), refused.clone())]),
            ("4242".to_owned(), vec![(id(&owner), verified), (id(&mule), refused)]),
        ]
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_inkan-server"))
        .args(["--database", server.db_url(), "admin", "flags"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("visa …4242") && printed.contains(mule.account_id()), "{printed}");
    assert!(printed.lines().any(|l| l.contains(other.account_id()) && l.contains("refused")), "{printed}");
    server.stop().await;
}
