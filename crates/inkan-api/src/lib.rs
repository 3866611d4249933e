//! The wire types of Inkan's HTTP API: what the merchant terminal, the wallet and the operator
//! send and receive. Shared by `inkan-server` and its clients so the contract is written once.
//!
//! Every request body refuses unknown fields (rule 3 of the brief): a client that sends a field
//! the server would ignore learns so at once, instead of believing it took effect.

pub mod admin;
pub mod devices;
pub mod error;
pub mod feed;
pub mod merchant;
pub mod wallet;

pub use error::{ApiError, ErrorBody, ErrorCode};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Bytes on the wire as unpadded base64url text.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]*$")
)]
pub struct Base64Url(pub Vec<u8>);

impl std::fmt::Debug for Base64Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64Url({} bytes)", self.0.len())
    }
}

impl Base64Url {
    /// The unpadded base64url text, as on the wire (in a body or a header).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// Reads what [`Base64Url::encode`] wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<Base64Url> {
        URL_SAFE_NO_PAD.decode(text.as_bytes()).ok().map(Base64Url)
    }
}

impl Serialize for Base64Url {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Base64Url {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        URL_SAFE_NO_PAD.decode(s.as_bytes()).map(Base64Url).map_err(|_| serde::de::Error::custom("expected base64url"))
    }
}

/// Header that carries the merchant's retry key on `POST /v1/charges`.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Response header with the server's clock in Unix milliseconds: devices issue payment codes on
/// the server's time, not their own.
pub const SERVER_TIME_HEADER: &str = "inkan-server-time";
/// Request header of the later steps of a device join (its state, its passkey challenge, its
/// passkey): the joining device key's signature over the join id and the step
/// (`DeviceSigningKey::sign_join_step`), in unpadded base64url.
pub const DEVICE_SIGNATURE_HEADER: &str = "inkan-device-signature";
/// Header a trusted edge proxy sets to the client's country (ISO 3166-1 alpha-2).
pub const COUNTRY_HEADER: &str = "X-Inkan-Country";
