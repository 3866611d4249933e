//! Payment codes as QR images, and back.
//!
//! Rendering is for the wallet (SVG for the app, PNG for files); decoding is for the merchant
//! terminal, which reads the code from a camera photo or a screenshot. The text form of a code is
//! pure base45, so the QR uses alphanumeric mode; at error correction M a v1 code and an ordinary
//! v2 code fit version 6, a pre-approved v2 code version 7 (docs/payment-code.md).
//! Kept apart from `inkan-core` so the issuer server, which never draws or reads an image, does
//! not link an image stack.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use qrcode::{EcLevel, QrCode, Version};

/// The QR version a payment code must fit in: small enough for an old phone camera at a till.
pub const MAX_VERSION: i16 = 7;
/// Largest image the terminal will try to decode, in pixels, so a hostile upload cannot make it
/// allocate without bound.
pub const MAX_DECODE_PIXELS: u64 = 40_000_000;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the payment code does not fit a QR code of version {MAX_VERSION} or smaller")]
    TooLarge,
    #[error("could not encode the QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("the image could not be read: {0}")]
    Image(#[from] image::ImageError),
    #[error("the image is too large to decode ({width}×{height})")]
    ImageTooLarge { width: u32, height: u32 },
    #[error("no QR code was found in the image")]
    NotFound,
    #[error("a QR code was found but could not be read: {0}")]
    Unreadable(String),
}

/// The QR symbol for a code's text form, at error correction M.
pub fn symbol(code: &str) -> Result<QrCode, QrError> {
    let qr = QrCode::with_error_correction_level(code, EcLevel::M)?;
    match qr.version() {
        Version::Normal(v) if v <= MAX_VERSION => Ok(qr),
        _ => Err(QrError::TooLarge),
    }
}

/// The QR version of a code's symbol (for tests, benchmarks and the docs).
pub fn version(code: &str) -> Result<i16, QrError> {
    match symbol(code)?.version() {
        Version::Normal(v) | Version::Micro(v) => Ok(v),
    }
}

/// An SVG document of the code, scaled by the viewer: sharp at any size.
pub fn render_svg(code: &str) -> Result<String, QrError> {
    Ok(symbol(code)?.render::<qrcode::render::svg::Color<'_>>().quiet_zone(true).min_dimensions(256, 256).build())
}

/// A PNG of the code with `module_px` pixels per module and the standard 4-module quiet zone.
pub fn render_png(code: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    let image = symbol(code)?.render::<Luma<u8>>().quiet_zone(true).module_dimensions(module_px, module_px).build();
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)?;
    Ok(png)
}

/// Reads every QR code in a PNG or JPEG image (a photo of a phone, a screenshot of the app) and
/// returns their text, in the order found. Does not judge whether they are payment codes.
pub fn decode_image(bytes: &[u8]) -> Result<Vec<String>, QrError> {
    let reader =
        image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(image::ImageError::IoError)?;
    let (width, height) = reader.into_dimensions()?;
    if u64::from(width) * u64::from(height) > MAX_DECODE_PIXELS {
        return Err(QrError::ImageTooLarge { width, height });
    }
    let mut reader =
        image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(image::ImageError::IoError)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    reader.limits(limits);
    let luma = reader.decode()?.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(luma);
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(QrError::NotFound);
    }
    grids
        .iter()
        .map(|grid| grid.decode().map(|(_meta, text)| text).map_err(|e| QrError::Unreadable(e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkan_core::payment_code::v2::{
        CodeIssuer, CodeMaster, DeviceIndex, PreApproval, SealKey, Secret32, system_rng,
    };
    use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, PaymentCode, ScannedCode};
    use ring::rand::SystemRandom;
    use time::{Duration, macros::datetime};

    fn code() -> (PaymentCode, DeviceSigningKey) {
        let rng = SystemRandom::new();
        let (key, _) = DeviceSigningKey::generate(&rng).unwrap();
        let id = DeviceKeyId::generate(&rng).unwrap();
        let now = datetime!(2026-06-10 12:00 UTC);
        (PaymentCode::issue(&key, id, 1, now, Duration::seconds(60), &rng).unwrap(), key)
    }

    /// 50 v2 codes of fresh devices, half of them pre-approved, as text.
    fn v2_codes() -> Vec<String> {
        let rng = SystemRandom::new();
        let now = datetime!(2026-06-10 12:00 UTC);
        (0..50)
            .map(|n| {
                let seal = SealKey::generate(1, &rng).unwrap();
                let master = CodeMaster::new(Secret32::generate(&rng).unwrap());
                let index = DeviceIndex::generate(&rng).unwrap();
                let keys = master.device_keys(index);
                let device = CodeIssuer { index, code_key: keys.code, seal: *seal.public() };
                let approval = PreApproval { number: n, cap: 3_000, expires: now + Duration::minutes(5) };
                let signed = approval.sign(index, &keys.approval).unwrap();
                let approval = (n % 2 == 1).then_some(&signed);
                device.issue(n + 1, now, Duration::seconds(60), approval, &mut system_rng()).unwrap().text()
            })
            .collect()
    }

    #[test]
    fn fits_version_six_at_level_m() {
        let (code, _) = code();
        assert_eq!(version(&code.text()).unwrap(), 6);
        assert_eq!(symbol(&code.text()).unwrap().error_correction_level(), EcLevel::M);
    }

    #[test]
    fn v2_codes_fit_version_six_or_seven_and_rqrr_reads_them_back() {
        for (n, text) in v2_codes().iter().enumerate() {
            let expected = if n % 2 == 1 { 7 } else { 6 };
            assert_eq!(version(text).unwrap(), expected, "{text}");
            assert_eq!(decode_image(&render_png(text, 4).unwrap()).unwrap(), vec![text.clone()]);
        }
    }

    /// An independent scanner: ZBar, as Debian packages it (`cargo xtask test` installs
    /// `zbar-tools`), reads every v2 code from the PNG this crate renders.
    #[test]
    fn zbar_reads_every_v2_code() {
        let dir = tempfile::tempdir().unwrap();
        for (n, text) in v2_codes().iter().enumerate() {
            let path = dir.path().join(format!("{n}.png"));
            std::fs::write(&path, render_png(text, 4).unwrap()).unwrap();
            let out = std::process::Command::new("zbarimg")
                .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
                .arg(&path)
                .output()
                .expect("zbarimg is not installed: `cargo xtask test` installs it (Debian package zbar-tools)");
            assert!(out.status.success(), "zbarimg: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'), text.as_str());
            assert!(matches!(ScannedCode::parse(text), Ok(ScannedCode::V2(_))));
        }
    }

    #[test]
    fn png_decodes_back_to_the_same_code_which_verifies() {
        let (code, key) = code();
        let png = render_png(&code.text(), 6).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let texts = decode_image(&png).unwrap();
        assert_eq!(texts, vec![code.text()]);
        let parsed = PaymentCode::parse(&texts[0]).unwrap();
        assert!(parsed.verify(&key.public_key(), datetime!(2026-06-10 12:00:30 UTC), None).is_ok());
    }

    #[test]
    fn jpeg_photo_with_noise_margin_decodes() {
        let (code, _) = code();
        let qr = symbol(&code.text()).unwrap().render::<Luma<u8>>().module_dimensions(5, 5).build();
        // Put the code off-centre on a larger grey "counter top" and save it lossy, as a camera would.
        let mut canvas = image::GrayImage::from_pixel(qr.width() + 300, qr.height() + 200, Luma([180]));
        image::imageops::overlay(&mut canvas, &qr, 170, 60);
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageLuma8(canvas).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        assert_eq!(decode_image(&jpeg).unwrap(), vec![code.text()]);
    }

    #[test]
    fn svg_is_a_document_with_dark_modules() {
        let (code, _) = code();
        let svg = render_svg(&code.text()).unwrap();
        assert!(svg.starts_with("<?xml"), "{}", &svg[..40]);
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        assert!(svg.matches("<path").count() >= 1 || svg.matches("<rect").count() > 100);
    }

    #[test]
    fn a_text_too_long_for_version_seven_is_refused() {
        assert!(matches!(symbol(&"A".repeat(179)), Err(QrError::TooLarge)));
        assert_eq!(version(&"A".repeat(178)).unwrap(), 7);
    }

    #[test]
    fn hostile_images_get_clear_errors() {
        assert!(matches!(decode_image(b""), Err(QrError::Image(_))));
        assert!(matches!(decode_image(b"\x89PNG\r\n\x1a\nthen garbage"), Err(QrError::Image(_))));
        let blank = image::GrayImage::from_pixel(200, 200, Luma([255]));
        let mut png = Vec::new();
        blank.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
        assert!(matches!(decode_image(&png), Err(QrError::NotFound)));
        // A PNG header that claims 100000×100000 pixels is refused before any allocation.
        let mut bomb = png.clone();
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(decode_image(&bomb), Err(QrError::ImageTooLarge { .. } | QrError::Image(_))));
    }
}
