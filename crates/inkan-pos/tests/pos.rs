//! The terminal against a real issuer server (`inkan-testkit`: loopback, SQLite, hand-moved clock)
//! while the test plays the shopper with a real passkey and device key: scanned PNG and JPEG
//! codes, confirm, decline, expiry, the server's refusals, local refusals, retries behind a flaky
//! connection, refunds. Every wait is bounded; no test sleeps for long.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: a failure here is a test failure")]

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use image::{GrayImage, ImageFormat, Luma};
use inkan_api::ErrorCode;
use inkan_api::merchant::Charge;
use inkan_api::wallet::{DeclineCharge, PendingCharge, WalletCharge};
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey};
use inkan_core::{ChargeStatus, Money, PaymentCode, PaymentCodeError};
use inkan_pos::receipt::receipt;
use inkan_pos::{
    ChargeRequest, CodeSource, Feedback, PosError, RetryPolicy, TerminalClient, TerminalKey, charge, exit,
};
use inkan_testkit::{Backend, Shopper, Terminal, TestServer, json};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use url::Url;

/// No test may take longer than this, whatever goes wrong.
const BOUND: StdDuration = StdDuration::from_secs(60);
const MERCHANT: &str = "FamilyMart Shibuya";

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, test).await.expect("the test did not finish in time")
}

/// A terminal client with short retry pauses, so tests of retries stay fast.
fn client_for(url: &str, key: &str) -> TerminalClient {
    TerminalClient::new(Url::parse(url).unwrap(), TerminalKey::new(key, "test").unwrap()).unwrap().with_retry(
        RetryPolicy {
            attempts: 5,
            first_delay: StdDuration::from_millis(50),
            max_delay: StdDuration::from_millis(200),
        },
    )
}

struct Shop {
    server: TestServer,
    till: Terminal,
    client: TerminalClient,
    shopper: Shopper,
}

/// A server, a merchant's till, and a shopper holding `balance` yen.
async fn shop(balance: i64) -> Shop {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant(MERCHANT).await;
    let shopper = Shopper::enroll(&server, "Hanako").await;
    shopper.top_up(&server, balance).await;
    let client = client_for(&server.url, &till.key);
    Shop { server, till, client, shopper }
}

/// A well-formed code of a device no server knows, for tests that never reach a server.
fn stranger_code() -> PaymentCode {
    let rng = SystemRandom::new();
    let (key, _) = DeviceSigningKey::generate(&rng).unwrap();
    let id = DeviceKeyId::generate(&rng).unwrap();
    PaymentCode::issue(&key, id, 1, time::OffsetDateTime::now_utc(), Duration::seconds(60), &rng).unwrap()
}

fn request(amount: i64, code: CodeSource) -> ChargeRequest {
    ChargeRequest { amount, description: Some("coffee".to_owned()), code }
}

/// The shopper's waiting charge, once the server shows it (asked every 50 ms, for at most 10 s).
async fn pending_charge(server: &TestServer, shopper: &Shopper) -> PendingCharge {
    for _ in 0..200 {
        if let Some(pending) = shopper.pending(server).await.into_iter().next() {
            return pending;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the charge never reached the shopper");
}

/// Waits for the charge to reach the shopper, checks what they are asked, and confirms it.
async fn shopper_confirms(server: &TestServer, shopper: &mut Shopper, amount: i64) {
    let pending = pending_charge(server, shopper).await;
    assert_eq!(pending.charge.amount, Money::yen(amount));
    assert_eq!(pending.charge.merchant_name, MERCHANT);
    let _: WalletCharge = json(shopper.confirm(server, &pending).await, StatusCode::OK).await;
}

async fn count(server: &TestServer, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(server.state.db.pool()).await.unwrap()
}

fn png(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
    bytes
}

/// A camera-like JPEG: the code off-centre on a larger grey "counter top", saved lossy.
fn jpeg_photo(code: &str) -> Vec<u8> {
    let qr = inkan_qr::symbol(code).unwrap().render::<Luma<u8>>().module_dimensions(5, 5).build();
    let mut canvas = GrayImage::from_pixel(qr.width() + 300, qr.height() + 200, Luma([180]));
    image::imageops::overlay(&mut canvas, &qr, 170, 60);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageLuma8(canvas).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
    jpeg
}

fn assert_succeeded(charge: &Charge, amount: &str) {
    assert_eq!(charge.status, ChargeStatus::Succeeded);
    assert_eq!(exit::for_status(charge.status), exit::SUCCEEDED);
    let text = receipt(charge);
    assert!(text.starts_with("PAID\n"), "{text}");
    assert!(text.contains(amount) && text.contains(MERCHANT) && text.contains(&charge.id), "{text}");
    assert!(text.contains("coffee") && text.contains(" JST\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_png_is_charged_and_the_shopper_confirms() {
    bounded(async {
        let Shop { server, client, mut shopper, .. } = shop(5_000).await;
        let code = shopper.code(&server);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("screenshot.png");
        std::fs::write(&path, inkan_qr::render_png(&code, 6).unwrap()).unwrap();

        let request = request(1280, CodeSource::ImageFile(path));
        let (charged, ()) =
            tokio::join!(charge(&client, &request, Feedback::Line), shopper_confirms(&server, &mut shopper, 1280));
        let charged = charged.unwrap();
        assert_succeeded(&charged, "¥1,280");
        assert_eq!(charged.merchant_name, MERCHANT);
        assert_eq!(shopper.balance(&server).await, 5_000 - 1280);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jpeg_photo_with_the_code_off_centre_works_too() {
    bounded(async {
        let Shop { server, client, mut shopper, .. } = shop(5_000).await;
        let code = shopper.code(&server);
        let request = request(1280, CodeSource::ImageBytes(jpeg_photo(&code)));
        let (charged, ()) =
            tokio::join!(charge(&client, &request, Feedback::Silent), shopper_confirms(&server, &mut shopper, 1280));
        assert_succeeded(&charged.unwrap(), "¥1,280");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shopper_declines() {
    bounded(async {
        let Shop { server, client, mut shopper, .. } = shop(5_000).await;
        let request = request(1280, CodeSource::Text(shopper.code(&server)));
        let decline = async {
            let pending = pending_charge(&server, &shopper).await;
            let path = format!("/v1/wallet/charges/{}/decline", pending.charge.id);
            let response = server.post(&path, Some(&shopper.token), &DeclineCharge { not_me: false }).await;
            let _: WalletCharge = json(response, StatusCode::OK).await;
        };
        let (charged, ()) = tokio::join!(charge(&client, &request, Feedback::Silent), decline);
        let charged = charged.unwrap();
        assert_eq!(charged.status, ChargeStatus::Declined);
        assert_eq!(exit::for_status(charged.status), exit::DECLINED);
        assert!(receipt(&charged).starts_with("NOT PAID: declined"));
        assert_eq!(shopper.balance(&server).await, 5_000);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_answers_and_the_charge_expires() {
    bounded(async {
        let Shop { server, client, mut shopper, .. } = shop(5_000).await;
        let request = request(1280, CodeSource::Text(shopper.code(&server)));
        let started = Instant::now();
        let time_passes = async {
            pending_charge(&server, &shopper).await;
            // The shopper walked away: two minutes pass on the server's clock. Its sweeper (once a
            // real second) expires the charge and wakes the terminal's long-poll.
            server.advance(Duration::seconds(121));
        };
        let (charged, ()) = tokio::join!(charge(&client, &request, Feedback::Silent), time_passes);
        let charged = charged.unwrap();
        assert_eq!(charged.status, ChargeStatus::Expired);
        assert_eq!(exit::for_status(charged.status), exit::EXPIRED);
        assert!(started.elapsed() < StdDuration::from_secs(10), "took {:?}", started.elapsed());
        server.stop().await;
    })
    .await;
}

/// A large first payment from a device enrolled minutes ago is held for Inkan's review: the
/// terminal keeps waiting on it, past the shopper's usual two minutes, and once the operator
/// approves it and the shopper confirms, the sale is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_held_for_review_is_waited_on_until_approved_and_paid() {
    bounded(async {
        let Shop { server, client, mut shopper, .. } = shop(30_000).await;
        let reviewer = server.operator_key().await;
        let request = request(21_000, CodeSource::Text(shopper.code(&server)));
        let review = async {
            let held = loop {
                let list: inkan_api::admin::HeldCharges =
                    json(server.get("/v1/admin/reviews", Some(&reviewer)).await, StatusCode::OK).await;
                if let Some(held) = list.charges.into_iter().next() {
                    break held;
                }
                tokio::time::sleep(StdDuration::from_millis(50)).await;
            };
            assert_eq!((held.amount, held.reason.as_str()), (21_000, "new_device_first_charge"));
            // Longer than a charge's lifetime passes before the decision: the terminal still waits.
            server.advance(Duration::minutes(3));
            let path = format!("/v1/admin/reviews/{}/approve", held.charge_id);
            let decision = inkan_api::admin::ReviewDecision { reason: "called the shopper".to_owned() };
            let approved: Charge = json(server.post(&path, Some(&reviewer), &decision).await, StatusCode::OK).await;
            assert_eq!(approved.status, ChargeStatus::PendingConfirmation);
            shopper.sign_in(&server).await;
            shopper_confirms(&server, &mut shopper, 21_000).await;
        };
        let (charged, ()) = tokio::join!(charge(&client, &request, Feedback::Line), review);
        let charged = charged.unwrap();
        assert_succeeded(&charged, "¥21,000");
        assert_eq!(shopper.balance(&server).await, 30_000 - 21_000);
        let mut held = charged.clone();
        held.status = ChargeStatus::HeldForReview;
        assert!(receipt(&held).starts_with("WAITING: Inkan is checking"), "{}", receipt(&held));
        assert_eq!(exit::for_status(held.status), exit::UNREACHABLE);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refusals_come_back_with_the_servers_code() {
    bounded(async {
        let Shop { server, till, client, mut shopper } = shop(5_000).await;
        let refused = |result: Result<Charge, PosError>, code: ErrorCode| {
            let err = result.unwrap_err();
            assert!(matches!(err, PosError::Refused(_)), "{err:?}");
            assert_eq!(err.api_code(), Some(code), "{err}");
            assert_eq!(err.exit_code(), exit::REFUSED);
            assert!(err.to_string().contains(&code.as_str()), "{err}");
        };

        // The same code twice: another till used it first.
        let code = shopper.code(&server);
        till.charge_ok(&code, 100).await;
        let again = charge(&client, &request(1280, CodeSource::Text(code)), Feedback::Silent).await;
        refused(again, ErrorCode::PaymentCodeUsed);

        // Over the new device's per-charge cap (¥30,000), then over the balance.
        let big = charge(&client, &request(40_000, CodeSource::Text(shopper.code(&server))), Feedback::Silent).await;
        refused(big, ErrorCode::LimitExceeded);
        let poor = charge(&client, &request(9_000, CodeSource::Text(shopper.code(&server))), Feedback::Silent).await;
        refused(poor, ErrorCode::InsufficientFunds);

        // A wrong terminal key.
        let stranger = client_for(&server.url, "tk_not_a_real_key");
        let err = charge(&stranger, &request(100, CodeSource::Text(shopper.code(&server))), Feedback::Silent)
            .await
            .unwrap_err();
        assert!(matches!(err, PosError::KeyRefused(_)), "{err:?}");
        assert_eq!(err.api_code(), Some(ErrorCode::Unauthorized));
        assert_eq!(err.exit_code(), exit::KEY);
        assert!(err.to_string().contains("ask the operator for a new one"), "{err}");
        assert!(!err.to_string().contains("tk_not_a_real_key"));

        // "This wasn't me" freezes the wallet; the next charge is refused.
        let pending = pending_charge(&server, &shopper).await;
        let path = format!("/v1/wallet/charges/{}/decline", pending.charge.id);
        let _: WalletCharge =
            json(server.post(&path, Some(&shopper.token), &DeclineCharge { not_me: true }).await, StatusCode::OK).await;
        let frozen = charge(&client, &request(100, CodeSource::Text(shopper.code(&server))), Feedback::Silent).await;
        refused(frozen, ErrorCode::WalletFrozen);

        // The operator suspends charges: a refusal at once, not a server failure to retry.
        let key = server.operator_key().await;
        let stop = inkan_api::admin::Suspend { reason: "incident drill".to_owned() };
        assert_eq!(server.put("/v1/admin/suspensions/charges", Some(&key), &stop).await.status(), StatusCode::OK);
        let suspended = charge(&client, &request(100, CodeSource::Text(shopper.code(&server))), Feedback::Silent).await;
        refused(suspended, ErrorCode::ChargesSuspended);

        // Only the first till's charge was made.
        assert_eq!(count(&server, "charges").await, 1);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_images_and_texts_are_refused_before_anything_is_sent() {
    bounded(async {
        // A "server" that records whether anyone connected.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let client = client_for(&format!("http://{}", listener.local_addr().unwrap()), "tk_any");
        let attempt = async |code: CodeSource| {
            let err = charge(&client, &request(1280, code), Feedback::Silent).await.unwrap_err();
            assert_eq!(err.exit_code(), exit::UNUSABLE_CODE, "{err:?}");
            err
        };

        let blank = png(&GrayImage::from_pixel(300, 300, Luma([255])));
        assert!(matches!(attempt(CodeSource::ImageBytes(blank)).await, PosError::NoQrCode));

        let hello = qrcode::QrCode::new(b"HELLO").unwrap().render::<Luma<u8>>().module_dimensions(6, 6).build();
        let err = attempt(CodeSource::ImageBytes(png(&hello))).await;
        assert!(matches!(err, PosError::NotAPaymentCode(PaymentCodeError::WrongLength(5))), "{err:?}");
        assert!(err.to_string().contains("not an Inkan payment code"), "{err}");

        // Two different payment codes side by side: which one is the shopper's?
        let first =
            inkan_qr::symbol(&stranger_code().text()).unwrap().render::<Luma<u8>>().module_dimensions(5, 5).build();
        let second =
            inkan_qr::symbol(&stranger_code().text()).unwrap().render::<Luma<u8>>().module_dimensions(5, 5).build();
        let mut both = GrayImage::from_pixel(first.width() + second.width() + 60, first.height() + 40, Luma([255]));
        image::imageops::overlay(&mut both, &first, 20, 20);
        image::imageops::overlay(&mut both, &second, i64::from(first.width()) + 40, 20);
        assert!(matches!(attempt(CodeSource::ImageBytes(png(&both))).await, PosError::SeveralQrCodes(2)));

        assert!(matches!(attempt(CodeSource::ImageBytes(b"GIF89a".to_vec())).await, PosError::Image(_)));
        let missing = CodeSource::ImageFile("/nonexistent/photo.jpg".into());
        assert!(matches!(attempt(missing).await, PosError::ImageFile { .. }));
        assert!(matches!(attempt(CodeSource::Text("hello".into())).await, PosError::NotAPaymentCode(_)));

        let nobody = listener.accept().map(|_| ()).unwrap_err();
        assert_eq!(nobody.kind(), std::io::ErrorKind::WouldBlock, "a request was sent");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_running_is_named_after_bounded_retries() {
    bounded(async {
        let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let client = client_for(&format!("http://{address}"), "tk_any");
        let started = Instant::now();
        let err = charge(&client, &request(1280, CodeSource::Text(stranger_code().text())), Feedback::Silent)
            .await
            .unwrap_err();
        assert!(matches!(err, PosError::Unreachable { .. }), "{err:?}");
        assert_eq!(err.exit_code(), exit::UNREACHABLE);
        assert!(err.to_string().contains("is it running?") && err.to_string().contains(&address.to_string()));
        assert!(started.elapsed() < StdDuration::from_secs(5), "took {:?}", started.elapsed());
    })
    .await;
}

/// What a flaky proxy does to the first connection it accepts; later ones it forwards.
#[derive(Debug, Clone, Copy)]
enum FirstConnection {
    /// Closes it at once: the request never reaches the server.
    HangsUp,
    /// Passes the request on, waits for the server to start answering (the charge is made), then
    /// closes it without passing the answer back: the terminal cannot know that it worked.
    LosesTheAnswer,
    /// Answers `503 Service Unavailable` itself.
    Answers503,
    /// Answers `503` with `Retry-After: 1`, as an overloaded server does.
    Overloaded,
}

struct FlakyProxy {
    url: String,
    connections: Arc<AtomicUsize>,
    /// When each connection was accepted.
    accepted: Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

async fn flaky_proxy(upstream: &str, first: FirstConnection) -> FlakyProxy {
    let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (counter, times) = (connections.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            times.lock().unwrap().push(std::time::Instant::now());
            let nth = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if nth == 0 {
                    match first {
                        FirstConnection::HangsUp => return,
                        FirstConnection::Answers503 | FirstConnection::Overloaded => {
                            read_request(&mut client).await;
                            let answer = if matches!(first, FirstConnection::Overloaded) {
                                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            } else {
                                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            };
                            let _ = client.write_all(answer.as_bytes()).await;
                            let _ = client.shutdown().await;
                            return;
                        }
                        FirstConnection::LosesTheAnswer => {
                            let server = TcpStream::connect(upstream).await.unwrap();
                            let (mut from_client, to_client) = client.into_split();
                            let (mut from_server, mut to_server) = server.into_split();
                            let forward =
                                tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
                            let mut first_byte = [0u8; 1];
                            let _ = from_server.read(&mut first_byte).await;
                            forward.abort();
                            let _ = forward.await;
                            drop(to_client);
                            return;
                        }
                    }
                }
                let mut server = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    FlakyProxy { url, connections, accepted }
}

/// Reads one HTTP/1.1 request (head and `content-length` body) so that an answer to it is not
/// cut short by a reset.
async fn read_request(stream: &mut TcpStream) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            if data.len() >= end + 4 + length {
                return;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

async fn charge_through(first: FirstConnection) {
    let Shop { server, mut shopper, till, .. } = shop(5_000).await;
    let proxy = flaky_proxy(&server.url, first).await;
    let client = client_for(&proxy.url, &till.key);
    let request = request(1280, CodeSource::Text(shopper.code(&server)));
    let (charged, ()) =
        tokio::join!(charge(&client, &request, Feedback::Silent), shopper_confirms(&server, &mut shopper, 1280));
    assert_succeeded(&charged.unwrap(), "¥1,280");
    assert!(proxy.connections.load(Ordering::SeqCst) >= 2, "{first:?}: the terminal never retried");
    // However many tries it took, one sale is one charge under one idempotency key.
    assert_eq!(count(&server, "charges").await, 1, "{first:?}");
    assert_eq!(count(&server, "idempotency_keys").await, 1, "{first:?}");
    assert_eq!(shopper.balance(&server).await, 5_000 - 1280);
    if matches!(first, FirstConnection::Overloaded) {
        // The server asked for a second; the terminal's own first pause is a quarter of that.
        let accepted = proxy.accepted.lock().unwrap().clone();
        let waited = accepted[1] - accepted[0];
        assert!(waited >= std::time::Duration::from_secs(1), "retried after {waited:?}, before its Retry-After");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried() {
    bounded(charge_through(FirstConnection::HangsUp)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_with_the_same_idempotency_key() {
    // With a new key the retry would be refused (the code is used) or charge twice.
    bounded(charge_through(FirstConnection::LosesTheAnswer)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried() {
    bounded(charge_through(FirstConnection::Answers503)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_server_s_retry_after_is_waited_out() {
    bounded(charge_through(FirstConnection::Overloaded)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_and_status() {
    bounded(async {
        let Shop { server, client, mut shopper, .. } = shop(5_000).await;
        let request = request(1280, CodeSource::Text(shopper.code(&server)));
        let (charged, ()) =
            tokio::join!(charge(&client, &request, Feedback::Silent), shopper_confirms(&server, &mut shopper, 1280));
        let charged = charged.unwrap();
        assert_eq!(shopper.balance(&server).await, 5_000 - 1280);

        let refunded = client.refund(&charged.id).await.unwrap();
        assert_eq!(refunded.status, ChargeStatus::Refunded);
        assert!(refunded.refunded_at.is_some());
        let text = receipt(&refunded);
        assert!(text.starts_with("REFUNDED\n") && text.contains("refunded     "), "{text}");
        assert_eq!(shopper.balance(&server).await, 5_000);

        let status = client.get_charge(&charged.id, None).await.unwrap();
        assert_eq!(status, refunded);

        // A second refund (a retry) answers with the same refunded charge; the money moved once.
        let again = client.refund(&charged.id).await.unwrap();
        assert_eq!(again, refunded);
        assert_eq!(shopper.balance(&server).await, 5_000);
        let unknown = client.get_charge("ch_nope/../x", None).await.unwrap_err();
        assert_eq!(unknown.api_code(), Some(ErrorCode::NotFound), "{unknown}");
        server.stop().await;
    })
    .await;
}
