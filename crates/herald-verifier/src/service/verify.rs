//! `/api/verify`: a code for a verification token, behind two failure budgets (per client, then
//! per device API key) reserved before the code is looked up.

use std::net::IpAddr;

use herald_model::UnixTime;
use herald_service::budget::{Allowance, Budgets, ClientId, ClientIds, Reservation};
use herald_wire::jwt::{TokenSubject, VerificationTokenClaims};
use herald_wire::verification::{ErrorCode, VerifyRequest, VerifyResponse, accepted_types};

use super::{ApiError, Service};
use crate::codes;
use crate::secret::Purpose;
use crate::store::ClaimOutcome;

/// Clients tracked at once by the per-client `/api/verify` budget (about 4 MiB at most).
const TRACKED_CLIENTS: usize = 100_000;

/// The two failure budgets of `/api/verify` (in memory: a restart forgets them, which an
/// attacker cannot trigger): per client (a keyed hash of its address), then per device API key,
/// which every install of an app shares. Both are reserved before the code is looked up and
/// refunded when it was right.
#[derive(Debug)]
pub(super) struct VerifyBudgets {
    clients: Budgets<ClientId>,
    client_ids: ClientIds,
    apps: Budgets<String>,
}

impl Default for VerifyBudgets {
    fn default() -> Self {
        Self {
            clients: Budgets::new(TRACKED_CLIENTS),
            client_ids: ClientIds::new(),
            apps: Budgets::new(1024),
        }
    }
}

/// The units one `/api/verify` attempt holds.
struct Held {
    client: Option<(ClientId, Reservation)>,
    app: Reservation,
}

impl Service {
    /// `/api/verify` with the device key `api_key`, from the client at `client` (for its
    /// failure budget; `None` when unknown).
    pub async fn verify(
        &self,
        request: &VerifyRequest,
        api_key: &str,
        client: Option<IpAddr>,
    ) -> Result<VerifyResponse, ApiError> {
        let now = self.now();
        let s = &self.settings;
        let accept = accepted_types(&request.accept).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidTestType,
                "accept lists an unknown test type (confirmed, likely, negative, user-report)",
            )
        })?;
        let held = self.reserve_attempt(api_key, client, now)?;
        let failed = |code: ErrorCode, message: &str| {
            self.metrics.increment(&crate::internal::CODES, "verify_failed");
            // Sampled, not one line per failure: the 1st, 10th, 100th, … of a window.
            let spent = held.app.spent;
            if is_power_of_ten(spent) {
                tracing::info!(
                    api_key,
                    error_code = code.as_str(),
                    failures_in_window = spent,
                    "verify refused (sampled: the 1st, 10th, 100th, … failure of a window is \
                     logged; herald_verifier_codes_total{{event=\"verify_failed\"}} counts all)"
                );
            }
            ApiError::new(code, message)
        };
        // People type codes: surrounding spaces and upper-case letters are forgiven.
        let code = request.code.trim().to_ascii_lowercase();
        if !codes::plausible(&code) {
            return Err(failed(ErrorCode::CodeInvalid, "verification code is malformed"));
        }
        let hashes = self.secrets.hashes(Purpose::Code, code.as_bytes());
        let outcome = self.store.claim_code(&hashes, &accept, now).await.map_err(|e| {
            self.refund_attempt(api_key, &held);
            ApiError::internal("claim_code", &e)
        })?;
        let row = match outcome {
            ClaimOutcome::Claimed(row) => {
                self.refund_attempt(api_key, &held);
                self.metrics.add(&crate::internal::CODES, "claimed", 1);
                row
            }
            ClaimOutcome::NotFound | ClaimOutcome::AlreadyClaimed => {
                return Err(failed(
                    ErrorCode::CodeInvalid,
                    "verification code is invalid or was already used",
                ));
            }
            ClaimOutcome::Expired => {
                return Err(failed(ErrorCode::CodeExpired, "verification code has expired"));
            }
            ClaimOutcome::Unsupported(t) => {
                // The code was right: not a guess.
                self.refund_attempt(api_key, &held);
                return Err(ApiError::new(
                    ErrorCode::UnsupportedTestType,
                    format!(
                        "the code is for test type {}, which the app does not accept",
                        t.as_str()
                    ),
                ));
            }
        };
        let subject = TokenSubject {
            test_type: row.test_type.as_str().to_owned(),
            symptom_date: row.symptom_day.map(|d| d.to_string()),
            test_date: row.test_day.map(|d| d.to_string()),
        };
        let claims = VerificationTokenClaims {
            issuer: s.token_issuer.clone(),
            audience: s.token_issuer.clone(),
            jwt_id: self.random.with(|rng| VerificationTokenClaims::random_jwt_id(rng)),
            subject: subject.clone(),
            issued_at: UnixTime(now),
            expires_at: UnixTime(now + s.token_lifetime),
        };
        let (token, _) = self.sign(&self.tokens, "token", &claims.to_json(), now)?;
        tracing::info!(api_key, test_type = row.test_type.as_str(), "code verified, token issued");
        Ok(VerifyResponse {
            test_type: subject.test_type,
            symptom_date: subject.symptom_date,
            test_date: subject.test_date,
            token,
            ..VerifyResponse::default()
        })
    }
}

impl Service {
    /// Takes one unit of the client's budget, then one of the app's, before the code is looked
    /// up; refuses (429) when either is spent.
    fn reserve_attempt(
        &self,
        api_key: &str,
        client: Option<IpAddr>,
        now: i64,
    ) -> Result<Held, ApiError> {
        let s = &self.settings;
        let window = s.failure_window;
        let client = client.map(|address| self.budgets.client_ids.of(address));
        let client = match client {
            None => None,
            Some(id) => {
                let allowance = Allowance { limit: s.client_failure_limit, window };
                match self.budgets.clients.reserve(&id, now, allowance) {
                    Ok(reservation) => {
                        if reservation.untracked {
                            self.metrics.increment(&crate::internal::TRIPS, "verify_clients_full");
                        }
                        Some((id, reservation))
                    }
                    Err(spent) => {
                        self.metrics.increment(&crate::internal::TRIPS, "verify_client");
                        if spent.first {
                            tracing::info!(
                                api_key,
                                retry_after = spent.retry_after,
                                "verify refused: a client spent its budget of failed attempts"
                            );
                        }
                        return Err(ApiError::new(
                            ErrorCode::QuotaExceeded,
                            "too many failed verification attempts from this client; try again \
                             later",
                        ));
                    }
                }
            }
        };
        let allowance = Allowance { limit: s.failure_limit, window };
        match self.budgets.apps.reserve(&api_key.to_owned(), now, allowance) {
            Ok(app) => Ok(Held { client, app }),
            Err(spent) => {
                // No guess was made: the client's unit goes back.
                if let Some((id, reservation)) = client {
                    self.budgets.clients.refund(&id, reservation);
                }
                self.metrics.increment(&crate::internal::TRIPS, "verify_app_budget");
                if spent.first {
                    tracing::warn!(
                        api_key,
                        retry_after = spent.retry_after,
                        "ALERT: the app-wide budget of failed verifications is spent; every \
                         /api/verify with this key answers 429 until the window ends (many \
                         clients are guessing codes)"
                    );
                }
                Err(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    "too many failed verification attempts with this API key; try again later",
                ))
            }
        }
    }

    /// Gives back the units of an attempt that was not a wrong guess.
    fn refund_attempt(&self, api_key: &str, held: &Held) {
        if let Some((id, reservation)) = held.client {
            self.budgets.clients.refund(&id, reservation);
        }
        self.budgets.apps.refund(&api_key.to_owned(), held.app);
    }
}

/// 1, 10, 100, …
fn is_power_of_ten(n: u32) -> bool {
    let mut n = n;
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_failures() {
        let logged: Vec<u32> = (1..=2000).filter(|&n| is_power_of_ten(n)).collect();
        assert_eq!(logged, [1, 10, 100, 1000]);
    }
}
