//! Who calls: an organisation's API token, as HTTP Basic (user = the organisation's name) or
//! Bearer, or its mTLS client certificate (issued by the CA the operator trusts, which the TLS
//! handshake checked, and registered to the organisation by thumbprint). Tokens are looked up
//! by their keyed hash; nothing about a failed attempt is logged but the fact.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use herald_runtime::server::PeerInfo;
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

/// A request's authenticated caller and its headers: the extractor of every TAXII route
/// (401 before anything else is looked at).
#[derive(Debug, Clone)]
pub(super) struct Authed {
    /// Who calls.
    pub caller: Caller,
    /// The request's headers.
    pub headers: HeaderMap,
}

impl FromRequestParts<Arc<Exchange>> for Authed {
    type Rejection = TaxiiError;

    async fn from_request_parts(
        parts: &mut Parts,
        exchange: &Arc<Exchange>,
    ) -> Result<Self, TaxiiError> {
        let certificate = parts.extensions.get::<PeerInfo>().and_then(|p| p.certificate.as_deref());
        let caller = caller(exchange, &parts.headers, certificate).await?;
        Ok(Self { caller, headers: parts.headers.clone() })
    }
}

/// The caller of a request: its `Authorization` when it has one, else its client certificate
/// (already verified against the client CA in the handshake) when registered; or 401.
async fn caller(
    exchange: &Exchange,
    headers: &HeaderMap,
    certificate: Option<&[u8]>,
) -> Result<Caller, TaxiiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return match certificate {
            Some(der) => certificate_caller(exchange, der).await,
            None => Err(TaxiiError::unauthorized(
                "credentials are required (HTTP Basic, Bearer or a client certificate)",
            )),
        };
    };
    let value = value.to_str().map_err(|_| TaxiiError::unauthorized("malformed credentials"))?;
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

/// The organisation a verified client certificate is registered to, or 401.
async fn certificate_caller(exchange: &Exchange, der: &[u8]) -> Result<Caller, TaxiiError> {
    let thumbprint = herald_trust::thumbprint(der);
    if let Some(org) = exchange.store.org_by_cert(&thumbprint.0).await? {
        Ok(Caller { org })
    } else {
        tracing::info!("refused a client certificate registered to no enabled organisation");
        Err(TaxiiError::unauthorized(
            "this client certificate is not registered to an enabled organisation",
        ))
    }
}
