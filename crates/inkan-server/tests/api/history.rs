//! The issuer signs every head of every history (issue 14): what `GET /v1/wallet/history` and the
//! live feed send verifies under the key `GET /v1/issuer-keys` publishes, and histories written
//! before heads were signed get a signed head when the server starts.

use std::time::Duration as StdDuration;

use inkan_api::feed::{FeedEvent, History, IssuerKeys};
use inkan_core::history::{self, HeadSignature, IssuerKey, KnownHead, Link, SignedLink};
use reqwest::StatusCode;

use super::setup;
use super::support::{self, Backend, FeedReader, TestServer, json};

support::on_both_databases!(
    every_head_is_signed_by_the_published_key,
    heads_written_before_signing_are_signed_at_start,
);

async fn published_key(server: &TestServer) -> IssuerKey {
    let keys: IssuerKeys = json(server.get("/v1/issuer-keys", None).await, StatusCode::OK).await;
    assert_eq!(keys.keys.len(), 1);
    keys.keys[0].key().expect("a well-formed Ed25519 key whose id matches")
}

fn verify(account_id: &str, key: &IssuerKey, events: &[FeedEvent]) -> Result<KnownHead, history::Failure> {
    let hashes: Vec<[u8; 32]> = events.iter().map(|e| unhex32(&e.hash)).collect();
    history::verify_signed(
        account_id,
        key,
        events.iter().zip(&hashes).map(|(e, hash)| SignedLink {
            link: Link {
                seq: e.seq,
                at_unix_ms: i64::try_from(e.at.unix_timestamp_nanos() / 1_000_000).unwrap(),
                payload: &e.payload,
                hash: *hash,
            },
            signature: e.signature.as_ref().map(|s| HeadSignature { key_id: &s.key_id, signature: &s.signature.0 }),
        }),
    )
}

fn unhex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap();
    out
}

async fn every_head_is_signed_by_the_published_key(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 5_000).await;
    let key = published_key(&server).await;
    assert_eq!(key, server.issuer_key());
    let mut feed = FeedReader::open(&server, &shopper.token, None).await;
    let code = shopper.code(&server);
    till.charge_ok(&code, 700).await;
    let pending = shopper.pending(&server).await;
    assert_eq!(shopper.confirm(&server, &pending[0]).await.status(), StatusCode::OK);
    let history: History = json(server.get("/v1/wallet/history", Some(&shopper.token)).await, StatusCode::OK).await;
    assert!(history.events.len() >= 4, "{history:?}");
    assert!(history.events.iter().all(|e| e.signature.as_ref().is_some_and(|s| s.key_id == key.id())));
    let head = verify(&history.account_id, &key, &history.events).unwrap();
    assert_eq!(head.seq, history.events.last().unwrap().seq);
    // Another wallet's id, or another key, and nothing verifies.
    assert!(verify("acc_someone_else", &key, &history.events).is_err());
    let (other, _) = inkan_server::issuer::Issuer::generate(&ring::rand::SystemRandom::new()).unwrap();
    assert!(verify(&history.account_id, other.key(), &history.events).is_err());
    // The live feed sends the same signed notices.
    let mut live = Vec::new();
    while live.len() < history.events.len() {
        live.push(feed.next_within(StdDuration::from_secs(2)).await.expect("the feed sends the history").data);
    }
    assert_eq!(live, history.events);
    server.stop().await;
}

async fn heads_written_before_signing_are_signed_at_start(backend: Backend) {
    let (server, _till, shopper) = setup(backend, 1_000).await;
    let key = server.issuer_key();
    let read = async || -> History {
        json(server.get("/v1/wallet/history", Some(&shopper.token)).await, StatusCode::OK).await
    };
    let before = read().await;
    // As the database stood before heads were signed.
    sqlx::query("UPDATE events SET signed_by = NULL, signature = NULL").execute(server.state.db.pool()).await.unwrap();
    let stripped = read().await;
    assert!(stripped.events.iter().all(|e| e.signature.is_none()));
    let failure = verify(&stripped.account_id, &key, &stripped.events).unwrap_err();
    assert_eq!(failure.error, history::ChainError::Unsigned { seq: stripped.events.last().unwrap().seq });
    // What `serve` does when it starts: the latest notice of each history is signed, once.
    assert_eq!(inkan_server::feed::sign_unsigned_heads(&server.state).await.unwrap(), 1);
    assert_eq!(inkan_server::feed::sign_unsigned_heads(&server.state).await.unwrap(), 0);
    let after = read().await;
    let signed: Vec<bool> = after.events.iter().map(|e| e.signature.is_some()).collect();
    assert_eq!(signed.iter().filter(|s| **s).count(), 1);
    assert_eq!(signed.last(), Some(&true));
    assert_eq!(verify(&after.account_id, &key, &after.events).unwrap().seq, before.events.last().unwrap().seq);
    assert_eq!(
        after.events.last().unwrap().signature,
        before.events.last().unwrap().signature,
        "Ed25519 is deterministic"
    );
    server.stop().await;
}
