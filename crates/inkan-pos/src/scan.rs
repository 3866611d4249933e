//! Reading the shopper's payment code from a photo or a screenshot, and checking its shape before
//! anything is sent: a terminal that forwards a wrong QR only learns later, and less clearly.

use inkan_core::payment_code::ScannedCode;
use inkan_qr::QrError;

use crate::error::PosError;

/// The one payment code in a PNG or JPEG image. Refuses an image with no QR code, with several
/// different ones (which is the shopper's?), or whose QR code is not a payment code.
pub fn code_from_image(bytes: &[u8]) -> Result<String, PosError> {
    let mut texts = inkan_qr::decode_image(bytes).map_err(|e| match e {
        QrError::NotFound => PosError::NoQrCode,
        QrError::Unreadable(why) => PosError::UnreadableQr(why),
        other => PosError::Image(other),
    })?;
    // The same code seen twice (a reflection, a second screen) is still one code.
    texts.sort_unstable();
    texts.dedup();
    match texts.as_slice() {
        [] => Err(PosError::NoQrCode),
        [text] => checked_code(text),
        several => Err(PosError::SeveralQrCodes(several.len())),
    }
}

/// `text`, trimmed, if it has the shape of a payment code of either version (length, alphabet,
/// version; for v1 the validity window too). Its signature or seal, and its freshness, only the
/// server can check.
pub fn checked_code(text: &str) -> Result<String, PosError> {
    let text = text.trim();
    ScannedCode::parse(text).map_err(PosError::NotAPaymentCode)?;
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkan_core::PaymentCodeError;

    #[test]
    fn text_that_is_not_a_payment_code_is_refused_with_the_reason() {
        let err = checked_code("HELLO").unwrap_err();
        assert!(matches!(err, PosError::NotAPaymentCode(PaymentCodeError::WrongLength(5))), "{err:?}");
        assert!(err.to_string().contains("not an Inkan payment code"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::UNUSABLE_CODE);
    }

    #[test]
    fn bytes_that_are_not_an_image_are_refused() {
        assert!(matches!(code_from_image(b"not an image"), Err(PosError::Image(_))));
    }
}
