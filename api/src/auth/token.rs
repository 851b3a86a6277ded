//! Access tokens (short-lived HS256 JWTs naming the user and the login) and refresh tokens
//! (random, stored only as a SHA-256 hash).
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The login (session) this token belongs to; revoking it ends every token of the login.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Keys the derivation of a refresh token's successor.
    successor_key: Hmac<Sha256>,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256: a token that names another algorithm (or `none`) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let successor_key = <Hmac<Sha256> as Mac>::new_from_slice(&[b"refresh:", secret].concat())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            successor_key,
        }
    }

    /// The refresh token that replaces `token` when it is spent. It is derived, not drawn, so
    /// a client that retries a refresh (its answer lost on a bad network) can be given the
    /// same pair again; without the server's secret nobody can compute it.
    pub fn successor(&self, token: &str) -> String {
        let mut mac = self.successor_key.clone();
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Checks signature, algorithm and expiry against the given time (seconds since epoch).
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        // jsonwebtoken checks `exp` against the system clock; we check again against ours,
        // so tests that move the clock see tokens expire.
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        (claims.exp + 5 > now).then_some(claims)
    }
}

/// A new refresh token: 32 random bytes, URL-safe.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            sid: "s1".into(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let token = keys.issue(&claims(1_000)).unwrap();
        assert!(keys.verify(&token, 900).is_some());
        assert!(keys.verify(&token, 2_000).is_none());
    }

    #[test]
    fn a_successor_is_the_same_each_time_and_differs_by_token_and_key() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let other = JwtKeys::new(b"another secret another secret xx");
        assert_eq!(keys.successor("a"), keys.successor("a"));
        assert_ne!(keys.successor("a"), keys.successor("b"));
        assert_ne!(keys.successor("a"), other.successor("a"));
        assert_eq!(keys.successor("a").len(), 43);
    }

    #[test]
    fn other_keys_and_alg_none_are_refused() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let other = JwtKeys::new(b"another secret another secret xx");
        let token = other.issue(&claims(i64::MAX / 2)).unwrap();
        assert!(keys.verify(&token, 0).is_none());

        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","sid":"s1","iat":0,"exp":9999999999}"#);
        assert!(keys.verify(&format!("{header}.{body}."), 0).is_none());
    }
}
