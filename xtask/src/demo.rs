//! `cargo xtask demo`: the product story, as far as it is built.
//!
//! Today: a device key, a payment code, its QR image written and read back, and what a till gets
//! for a tampered, an expired and a reused code. The key lives in memory here; the wallet keeps
//! it in the OS keystore (issue "The wallet on a device").

use anyhow::{Context, Result};
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, PaymentCode, PaymentCodeError, UnverifiedPaymentCode};
use ring::rand::SystemRandom;
use time::{Duration, OffsetDateTime};

use crate::root;

pub fn run() -> Result<()> {
    let rng = SystemRandom::new();
    let now = OffsetDateTime::now_utc();
    println!("Inkan demo: a payment code from device to till\n");

    let (key, _pkcs8) = DeviceSigningKey::generate(&rng).context("making a device key")?;
    let key_id = DeviceKeyId::generate(&rng).context("making a device key id")?;
    println!("1. The shopper's device makes its P-256 key (kept in memory for this demo).");
    println!("   device key id: {key_id}  (random; says nothing about who the shopper is)\n");

    let code = PaymentCode::issue(&key, key_id, 1, now, Duration::seconds(60), &rng).context("issuing a code")?;
    let text = code.text();
    println!("2. It signs a payment code, valid for 60 s, counter 1. Offline: no server is asked.");
    println!("   {text}");
    println!(
        "   {} bytes, {} base45 characters, QR version {} at error correction M\n",
        code.as_bytes().len(),
        text.len(),
        inkan_qr::version(&code)?
    );

    let dir = root().join("target").join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let png_path = dir.join("payment-code.png");
    let png = inkan_qr::render_png(&code, 8)?;
    std::fs::write(&png_path, &png).with_context(|| format!("writing {}", png_path.display()))?;
    std::fs::write(dir.join("payment-code.svg"), inkan_qr::render_svg(&code)?).context("writing the SVG")?;
    println!("3. The QR is drawn: {} ({} bytes; an SVG beside it)\n", png_path.display(), png.len());

    let read = std::fs::read(&png_path).context("reading the PNG back")?;
    let scanned = inkan_qr::decode_image(&read)?;
    let scanned = scanned.first().context("no QR code found in the PNG")?;
    let verified = PaymentCode::parse(scanned)?.verify(&key.public_key(), OffsetDateTime::now_utc(), None)?;
    let claims = verified.claims();
    println!(
        "4. The till scans the PNG: the same code ({}), and it verifies.",
        if *scanned == text { "identical" } else { "DIFFERENT" }
    );
    println!(
        "   device {}, counter {}, valid until {} UTC\n",
        claims.key_id,
        claims.counter,
        format_hms(claims.expires)
    );

    println!("5. What the till gets for bad codes:");
    let mut tampered = text.clone().into_bytes();
    tampered[70] = if tampered[70] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).context("tampering")?;
    show("one character changed", PaymentCode::parse(&tampered).and_then(|c| check(&c, &key, now, None)));
    let parsed = PaymentCode::parse(&text)?;
    show("the same code 61 s later", check(&parsed, &key, now + Duration::seconds(61), None));
    show("the same code again, after it paid", check(&parsed, &key, now, Some(claims.counter)));
    let (other, _) = DeviceSigningKey::generate(&rng)?;
    show("checked against another device's key", check(&parsed, &other, now, None));
    show("a screenshot of something else", PaymentCode::parse("HELLO-WORLD").map(|_| ()));
    println!("\nDemo done. Files are in {}", dir.display());
    Ok(())
}

fn check(
    code: &UnverifiedPaymentCode,
    key: &DeviceSigningKey,
    now: OffsetDateTime,
    last_used: Option<u32>,
) -> Result<(), PaymentCodeError> {
    code.verify(&key.public_key(), now, last_used).map(|_| ())
}

fn show(what: &str, outcome: Result<(), PaymentCodeError>) {
    match outcome {
        Ok(()) => println!("   {what:<38} → ACCEPTED (this is a bug)"),
        Err(e) => println!("   {what:<38} → refused: {} ({e})", e.api_code()),
    }
}

fn format_hms(t: OffsetDateTime) -> String {
    let (h, m, s) = t.to_hms();
    format!("{h:02}:{m:02}:{s:02}")
}
