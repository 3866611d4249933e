//! Payment-code timings on the wallet's side (make, encode, render) and the terminal's (decode a
//! PNG), with `inkan-core` and `inkan-qr` exactly as the app, the CLI and `inkan-pos` call them.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, PaymentCode};
use ring::rand::SystemRandom;
use serde::Serialize;
use time::OffsetDateTime;

use crate::stats::{Latency, Samples};

/// Pixels per QR module in the PNG, as `inkan code --png` writes it.
pub const MODULE_PX: u32 = 8;

#[derive(Debug, Clone, Serialize)]
pub struct CodeTimings {
    /// QR version of a payment code at error correction M.
    pub qr_version: i16,
    /// Characters of the code's text form.
    pub text_len: usize,
    pub png_bytes: usize,
    pub png_pixels: String,
    /// `PaymentCode::issue`: build and sign (ECDSA P-256).
    pub make: Latency,
    /// `PaymentCode::text`: base45.
    pub encode: Latency,
    /// `inkan_qr::render_svg` (what the app shows).
    pub render_svg: Latency,
    /// `inkan_qr::render_png` at 8 px per module.
    pub render_png: Latency,
    /// `inkan_qr::decode_image` of that PNG (what the terminal does with a scan).
    pub decode_png: Latency,
}

/// Runs `op` until `budget` is spent (at least 5 times), timing each run.
fn time_each<T>(budget: Duration, mut op: impl FnMut() -> Result<T>) -> Result<Latency> {
    let mut samples = Samples::default();
    let start = Instant::now();
    while samples.len() < 5 || (start.elapsed() < budget && samples.len() < 100_000) {
        let t = Instant::now();
        std::hint::black_box(op()?);
        samples.push(t.elapsed());
    }
    samples.summary().ok_or_else(|| anyhow!("no samples"))
}

/// Times each step for about `budget`.
pub fn measure(budget: Duration) -> Result<CodeTimings> {
    let rng = SystemRandom::new();
    let (key, _) = DeviceSigningKey::generate(&rng).map_err(|e| anyhow!("device key: {e}"))?;
    let key_id = DeviceKeyId::generate(&rng).map_err(|e| anyhow!("key id: {e}"))?;
    let now = OffsetDateTime::now_utc();
    let mut counter = 0u32;
    let make = time_each(budget, || {
        counter += 1;
        PaymentCode::issue(&key, key_id, counter, now, time::Duration::seconds(60), &rng)
            .map_err(|e| anyhow!("issue: {e}"))
    })?;
    let code = PaymentCode::issue(&key, key_id, counter + 1, now, time::Duration::seconds(60), &rng)
        .map_err(|e| anyhow!("issue: {e}"))?;
    let encode = time_each(budget, || Ok(code.text()))?;
    let text = code.text();
    let render_svg = time_each(budget, || Ok(inkan_qr::render_svg(&text)?))?;
    let render_png = time_each(budget, || Ok(inkan_qr::render_png(&text, MODULE_PX)?))?;
    let png = inkan_qr::render_png(&text, MODULE_PX)?;
    let decoded = inkan_qr::decode_image(&png)?;
    if decoded != [text.clone()] {
        return Err(anyhow!("the PNG decoded to something else than the code"));
    }
    let decode_png = time_each(budget, || Ok(inkan_qr::decode_image(&png)?))?;
    let side = inkan_qr::symbol(&text)?.width() + 8;
    let px = u32::try_from(side).unwrap_or(0) * MODULE_PX;
    Ok(CodeTimings {
        qr_version: inkan_qr::version(&text)?,
        text_len: text.len(),
        png_bytes: png.len(),
        png_pixels: format!("{px}×{px}"),
        make,
        encode,
        render_svg,
        render_png,
        decode_png,
    })
}
