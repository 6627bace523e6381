//! Who calls: an organisation's API token, as HTTP Basic (user = the organisation's name) or
//! Bearer. Tokens are looked up by their keyed hash; nothing about a failed attempt is logged
//! but the fact.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};

use super::{Exchange, TaxiiError};
use crate::store::{Org, Reader};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its organisation.
    pub org: Org,
}

impl Caller {
    /// How it reads.
    pub fn reader(&self) -> Reader {
        self.org.reader()
    }
}

/// HMAC-SHA256 of a token under the token key: what the store keeps.
pub fn token_hash(key: &[u8; 32], token: &str) -> [u8; 32] {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else { return [0; 32] };
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The caller of a request, or 401.
pub(super) async fn caller(exchange: &Exchange, headers: &HeaderMap) -> Result<Caller, TaxiiError> {
    let value =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            TaxiiError::unauthorized("credentials are required (HTTP Basic or Bearer)")
        })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let (name, token) = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| TaxiiError::unauthorized("malformed Basic credentials"))?;
        let (name, token) = decoded
            .split_once(':')
            .ok_or_else(|| TaxiiError::unauthorized("malformed Basic credentials"))?;
        (Some(name.to_owned()), token.to_owned())
    } else if scheme.eq_ignore_ascii_case("bearer") {
        (None, rest.trim().to_owned())
    } else {
        return Err(TaxiiError::unauthorized("unsupported authorization scheme"));
    };
    let org = exchange.store.org_by_token(&token_hash(&exchange.token_key, &token)).await?;
    match org {
        Some(org) if name.as_deref().is_none_or(|n| n == org.name) => Ok(Caller { org }),
        _ => {
            tracing::info!("refused credentials");
            Err(TaxiiError::unauthorized("unknown organisation or token"))
        }
    }
}
