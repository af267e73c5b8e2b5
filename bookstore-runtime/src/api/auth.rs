//! Bearer tokens: HS256 JWTs with `sub`, `tenant_id`, `role`, `iat`, `exp`, the
//! algorithm pinned (a token whose header names any other algorithm, `none`
//! included, is refused before its signature is looked at). The `Caller` extractor
//! also checks the tenant is active and applies the tenant's rate limit.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use axum::extract::FromRequestParts;
use axum::http::{Method, header, request::Parts};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use crate::config::Secret;
use crate::domain::{Role, TenantId, UserId};
use crate::error::Error;
use crate::limits::{Budget, Charge, RouteClass};

type HmacSha256 = Hmac<Sha256>;

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Claims {
    pub sub: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

const HEADER_HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// How many verified tokens `TokenKeys` remembers; when full it forgets them all (each
/// lives an hour at most, so a full map is mostly spent tokens).
const REMEMBERED_TOKENS: usize = 10_000;

/// Signs and verifies tokens with the stage's secret.
pub struct TokenKeys {
    /// HMAC keyed once; each use clones it (cheaper than keying again).
    keyed: HmacSha256,
    pub ttl_seconds: i64,
    /// Tokens whose signature verified, by their exact text, with their claims: a client
    /// sends one token with every request, and checking its signature and decoding its
    /// claims again was a fifth of a book read's CPU. Lifetimes are checked on every use.
    verified: RwLock<HashMap<Box<str>, Claims>>,
}

impl TokenKeys {
    pub fn new(secret: Secret, ttl_seconds: i64) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        let keyed = HmacSha256::new_from_slice(secret.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
        Self { keyed, ttl_seconds, verified: RwLock::new(HashMap::new()) }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// Issues a token for the user, valid for `ttl_seconds` from `now`.
    pub fn issue(&self, user: UserId, tenant: &TenantId, role: Role, now: i64) -> String {
        let claims = Claims { sub: user, tenant_id: tenant.clone(), role, iat: now, exp: now + self.ttl_seconds };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER_HS256), URL_SAFE_NO_PAD.encode(payload));
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// Verifies the token's algorithm, signature and lifetime at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, Error> {
        let remembered = self.verified.read().unwrap_or_else(PoisonError::into_inner).get(token).cloned();
        if let Some(claims) = remembered {
            self.check_lifetime(&claims, now)?;
            return Ok(claims);
        }
        let claims = self.verify_signed(token)?;
        self.check_lifetime(&claims, now)?;
        let mut verified = self.verified.write().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= REMEMBERED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), claims.clone());
        Ok(claims)
    }

    /// The claims of a token whose algorithm and signature are right.
    fn verify_signed(&self, token: &str) -> Result<Claims, Error> {
        let bad = |why: &str| Error::Unauthorized(why.to_owned());
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("token is malformed"));
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| bad("token header is malformed"))?;
        if header.alg != "HS256" {
            return Err(bad("token algorithm is not accepted"));
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| bad("token signature is malformed"))?;
        let mut mac = self.mac();
        let (signing_input, _) = token.rsplit_once('.').ok_or_else(|| bad("token is malformed"))?;
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&signature).map_err(|_| bad("token signature is invalid"))?;
        URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| bad("token claims are malformed"))
    }

    fn check_lifetime(&self, claims: &Claims, now: i64) -> Result<(), Error> {
        let bad = |why: &str| Err(Error::Unauthorized(why.to_owned()));
        if claims.exp <= now {
            return bad("token has expired");
        }
        if claims.iat > now + 60 || claims.exp - claims.iat > self.ttl_seconds {
            return bad("token lifetime is not accepted");
        }
        Ok(())
    }
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("secret", &"[redacted]").finish()
    }
}

/// The authenticated caller of a protected route: the tenant comes from here only.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub tenant: TenantId,
    pub role: Role,
}

impl Caller {
    /// Refuses callers that are not the tenant's administrators.
    pub fn require_admin(&self) -> Result<(), Error> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Customer => Err(Error::Forbidden("this action needs the admin role".to_owned())),
        }
    }
}

pub fn bearer_token(parts: &Parts) -> Result<&str, Error> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthorized("missing Authorization header".to_owned()))?;
    let value = value.to_str().map_err(|_| Error::Unauthorized("Authorization header is not text".to_owned()))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Unauthorized("Authorization must be 'Bearer <token>'".to_owned()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let claims = state.tokens.verify(token, chrono::Utc::now().timestamp())?;
        let class = if parts.method == Method::GET { RouteClass::Read } else { RouteClass::Write };
        state.admit(&claims.tenant_id, &[Charge::Use(Budget::route(class, &state.config.rate_limits))]).await?;
        state.active_tenants.require(state.store.as_ref(), &claims.tenant_id).await?;
        Ok(Caller { user_id: claims.sub, tenant: claims.tenant_id, role: claims.role })
    }
}

/// The tenant named by `X-Tenant-Id` on register and login (the only routes without a token).
pub fn header_tenant(headers: &axum::http::HeaderMap) -> Result<TenantId, Error> {
    let raw = headers
        .get("x-tenant-id")
        .ok_or_else(|| Error::bad_request("missing_tenant", "send the shop's id in the X-Tenant-Id header"))?;
    let raw = raw.to_str().map_err(|_| Error::bad_request("invalid_tenant", "X-Tenant-Id is not text"))?;
    TenantId::parse(raw).map_err(|e| Error::bad_request("invalid_tenant", format!("X-Tenant-Id: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(Secret::new("k".repeat(32)), 3600)
    }

    fn tenant() -> TenantId {
        TenantId::parse("shop-a").expect("valid tenant")
    }

    #[test]
    fn issued_token_verifies_until_it_expires() {
        let user = UserId::new_v7();
        let token = keys().issue(user, &tenant(), Role::Customer, 1_000);
        let claims = keys().verify(&token, 1_001).expect("valid token");
        assert_eq!(claims.sub, user);
        assert!(keys().verify(&token, 1_000 + 3600).is_err());
    }

    #[test]
    fn alg_none_and_foreign_signatures_are_refused() {
        let token = keys().issue(UserId::new_v7(), &tenant(), Role::Admin, 1_000);
        let (_, rest) = token.split_once('.').expect("three parts");
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let (payload, _) = rest.split_once('.').expect("three parts");
        assert!(keys().verify(&format!("{none_header}.{payload}."), 1_001).is_err());
        let other = TokenKeys::new(Secret::new("x".repeat(32)), 3600);
        assert!(other.verify(&token, 1_001).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_one_is_checked_again() {
        let keys = keys();
        let token = keys.issue(UserId::new_v7(), &tenant(), Role::Customer, 1_000);
        assert!(keys.verify(&token, 1_001).is_ok());
        assert!(keys.verify(&token, 1_002).is_ok(), "remembered");
        assert!(keys.verify(&token, 1_000 + 3600).is_err(), "expired though remembered");
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(keys.verify(&forged, 1_001).is_err(), "another signature is verified, not looked up");
    }

    #[test]
    fn changed_claims_break_the_signature() {
        let token = keys().issue(UserId::new_v7(), &tenant(), Role::Customer, 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = serde_json::json!({"sub": UserId::new_v7(), "tenant_id": "shop-b", "role": "admin", "iat": 1000, "exp": 4600});
        let forged = URL_SAFE_NO_PAD.encode(forged.to_string());
        assert!(keys().verify(&format!("{}.{forged}.{}", parts[0], parts[2]), 1_001).is_err());
    }
}
