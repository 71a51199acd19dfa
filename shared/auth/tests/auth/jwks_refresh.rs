//! JWKS from a URL (and file): new keys are picked up on an unknown kid, and
//! refetching is rate-limited.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::JwkSet;
use spotter_auth::{AuthError, AuthSettings, JwksSource, JwtVerifier, SigningKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::common::*;

/// A minimal HTTP server on 127.0.0.1 that serves whatever JWKS it currently
/// holds and counts the requests.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    jwks: Arc<Mutex<JwkSet>>,
}

impl JwksServer {
    async fn start(jwks: JwkSet) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let jwks = Arc::new(Mutex::new(jwks));
        let (h, j) = (hits.clone(), jwks.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (h, j) = (h.clone(), j.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = serde_json::to_string(&*j.lock().unwrap()).unwrap();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, hits, jwks }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn publish(&self, key: &SigningKey) {
        self.jwks
            .lock()
            .unwrap()
            .keys
            .push(key.public_jwk().clone());
    }

    fn settings(&self) -> AuthSettings {
        AuthSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks: Some(JwksSource::parse(&self.url).unwrap()),
            dev_mode: false,
        }
    }
}

fn token(key: &SigningKey) -> String {
    key.sign(&claims("trainer", Uuid::now_v7(), None)).unwrap()
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_rate_limits() {
    let k1 = SigningKey::generate("rot-1").unwrap();
    let server = JwksServer::start(k1.jwks()).await;
    let verifier = JwtVerifier::from_settings(&server.settings())
        .await
        .unwrap();
    assert_eq!(server.hits(), 1, "initial load");

    verifier.verify(&token(&k1)).await.unwrap();
    assert_eq!(server.hits(), 1, "known kids are served from the cache");

    // Rotation: the IdP publishes a new key after we started.
    let k2 = SigningKey::generate("rot-2").unwrap();
    server.publish(&k2);
    verifier.verify(&token(&k2)).await.unwrap();
    assert_eq!(server.hits(), 2, "unknown kid triggers one refetch");

    // Within 30 s of that refresh, unknown kids do not reach the IdP again —
    // neither garbage ones nor a genuinely new key.
    for i in 0..5 {
        let junk = SigningKey::generate(format!("junk-{i}")).unwrap();
        assert_eq!(
            verifier.verify(&token(&junk)).await,
            Err(AuthError::UnknownKey)
        );
    }
    let k3 = SigningKey::generate("rot-3").unwrap();
    server.publish(&k3);
    assert_eq!(
        verifier.verify(&token(&k3)).await,
        Err(AuthError::UnknownKey)
    );
    assert_eq!(server.hits(), 2, "refetch is rate-limited");

    // Old and rotated keys keep working throughout.
    verifier.verify(&token(&k1)).await.unwrap();
    verifier.verify(&token(&k2)).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let k1 = SigningKey::generate("burst-1").unwrap();
    let server = JwksServer::start(k1.jwks()).await;
    let verifier = JwtVerifier::from_settings(&server.settings())
        .await
        .unwrap();
    let k2 = SigningKey::generate("burst-2").unwrap();
    server.publish(&k2);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let verifier = verifier.clone();
        // Half ask for the new real key, half for garbage; all at once.
        let token = if i % 2 == 0 {
            token(&k2)
        } else {
            token(&SigningKey::generate(format!("garbage-{i}")).unwrap())
        };
        tasks.spawn(async move { (i, verifier.verify(&token).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.unwrap();
        if i % 2 == 0 {
            result.unwrap();
        } else {
            assert_eq!(result, Err(AuthError::UnknownKey));
        }
    }
    assert_eq!(server.hits(), 2, "one initial load plus one shared refresh");
}

#[tokio::test]
async fn dev_keys_published_later_are_skipped_in_production() {
    let k1 = SigningKey::generate("prod-1").unwrap();
    let server = JwksServer::start(k1.jwks()).await;
    let verifier = JwtVerifier::from_settings(&server.settings())
        .await
        .unwrap();
    let dev = SigningKey::generate(format!("{}late", spotter_auth::DEV_KID_PREFIX)).unwrap();
    server.publish(&dev);
    assert_eq!(
        verifier.verify(&token(&dev)).await,
        Err(AuthError::DevKeyRefused)
    );
    assert_eq!(server.hits(), 1, "dev kids do not even trigger a refetch");
}

#[tokio::test]
async fn jwks_file_is_reread_on_unknown_kid() {
    let dir = std::env::temp_dir().join(format!("spotter-auth-file-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    let k1 = SigningKey::generate("file-1").unwrap();
    let k2 = SigningKey::generate("file-2").unwrap();
    std::fs::write(&path, serde_json::to_vec(&k1.jwks()).unwrap()).unwrap();
    let settings = AuthSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks: Some(JwksSource::File(path.clone())),
        dev_mode: false,
    };
    let verifier = JwtVerifier::from_settings(&settings).await.unwrap();
    let both = JwkSet {
        keys: vec![k1.public_jwk().clone(), k2.public_jwk().clone()],
    };
    std::fs::write(&path, serde_json::to_vec(&both).unwrap()).unwrap();
    verifier.verify(&token(&k2)).await.unwrap();
    verifier.verify(&token(&k1)).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    assert!(JwksSource::parse("http://idp.example.com/jwks.json").is_err());
}
