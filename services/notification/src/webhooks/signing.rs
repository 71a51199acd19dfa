//! Standard Webhooks signatures (standardwebhooks.com): the secret is
//! `whsec_` and base64 key bytes; a signature is `v1,` and the base64
//! HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`. While an old
//! secret is still valid after a rotation, both sign, space-separated, and
//! a receiver accepts either.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "whsec_";
/// 32 key bytes: the spec asks for 24 to 64.
const KEY_BYTES: usize = 32;

/// A new random signing secret.
pub fn new_secret() -> anyhow::Result<String> {
    let mut key = [0u8; KEY_BYTES];
    aws_lc_rs::rand::fill(&mut key)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(key)))
}

/// One `v1,…` signature; `None` for a secret not in the `whsec_` form
/// (which Spotter never makes).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    Some(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

/// The `webhook-signature` header: one signature per secret in force.
pub fn header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of its
    /// reference libraries' tests).
    #[test]
    fn signs_the_specification_s_example() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_new_secret_is_random_and_in_the_whsec_form() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        let key = STANDARD.decode(a.strip_prefix(PREFIX).unwrap()).unwrap();
        assert_eq!(key.len(), KEY_BYTES);
        assert_eq!(header(&[&a, &b], "msg_1", 1, b"{}").split(' ').count(), 2);
    }
}
