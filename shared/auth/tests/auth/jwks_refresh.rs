//! JWKS from a URL (and file): new keys are picked up on an unknown kid, and
//! refetching is rate-limited; the set is also fetched again periodically,
//! after the source's `max-age` within bounds, so a withdrawn key stops
//! being trusted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::JwkSet;
use spotter_auth::{AuthError, AuthSettings, JwksSource, JwtVerifier, RefreshBounds, SigningKey};
use std::time::{Duration, Instant};
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
    /// Sent as `Cache-Control` when not empty.
    cache_control: Arc<Mutex<String>>,
    /// While set, every request gets a 503 (the identity provider is down).
    down: Arc<std::sync::atomic::AtomicBool>,
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
        let cache_control = Arc::new(Mutex::new(String::new()));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, j, c, d) = (
            hits.clone(),
            jwks.clone(),
            cache_control.clone(),
            down.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (h, j, c, d) = (h.clone(), j.clone(), c.clone(), d.clone());
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
                    if d.load(Ordering::SeqCst) {
                        let unavailable = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                        let _ = socket.write_all(unavailable.as_bytes()).await;
                        let _ = socket.shutdown().await;
                        return;
                    }
                    let body = serde_json::to_string(&*j.lock().unwrap()).unwrap();
                    let cache_control = match c.lock().unwrap().as_str() {
                        "" => String::new(),
                        value => format!("cache-control: {value}\r\n"),
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{cache_control}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            url,
            hits,
            jwks,
            cache_control,
            down,
        }
    }

    fn withdraw(&self, kid: &str) {
        self.jwks
            .lock()
            .unwrap()
            .keys
            .retain(|jwk| jwk.common.key_id.as_deref() != Some(kid));
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
            refresh: Default::default(),
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
async fn a_key_the_provider_withdraws_stops_being_trusted_at_the_next_refresh() {
    let kept = SigningKey::generate("kept").unwrap();
    let compromised = SigningKey::generate("compromised").unwrap();
    let server = JwksServer::start(kept.jwks()).await;
    server.publish(&compromised);
    // The provider asks for a short cache; the bounds hold it to 200 ms.
    *server.cache_control.lock().unwrap() = "public, max-age=0".to_owned();
    let settings = AuthSettings {
        refresh: RefreshBounds {
            min: Duration::from_millis(200),
            max: Duration::from_secs(3600),
        },
        ..server.settings()
    };
    let verifier = JwtVerifier::from_settings(&settings).await.unwrap();
    verifier.verify(&token(&compromised)).await.unwrap();

    server.withdraw("compromised");
    let deadline = Instant::now() + Duration::from_secs(10);
    while verifier.verify(&token(&compromised)).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the withdrawn key is still trusted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        verifier.verify(&token(&compromised)).await,
        Err(AuthError::UnknownKey)
    );
    verifier.verify(&token(&kept)).await.unwrap();
}

#[tokio::test]
async fn after_a_failed_refresh_the_next_comes_soon_not_an_hour_later() {
    let kept = SigningKey::generate("kept-through-outage").unwrap();
    let compromised = SigningKey::generate("withdrawn-during-outage").unwrap();
    let server = JwksServer::start(kept.jwks()).await;
    server.publish(&compromised);
    *server.cache_control.lock().unwrap() = "max-age=0".to_owned();
    let settings = AuthSettings {
        refresh: RefreshBounds {
            min: Duration::from_millis(200),
            max: Duration::from_secs(3600),
        },
        ..server.settings()
    };
    let verifier = JwtVerifier::from_settings(&settings).await.unwrap();
    // The provider goes down; wait until a scheduled refresh has failed.
    server.down.store(true, Ordering::SeqCst);
    let failed_after = server.hits() + 1;
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.hits() <= failed_after {
        assert!(
            Instant::now() < deadline,
            "no refresh while the provider was down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Back up, without the key it withdrew meanwhile (and now saying nothing
    // about caching, so only the failure decides when the next fetch is).
    server.withdraw("withdrawn-during-outage");
    *server.cache_control.lock().unwrap() = String::new();
    server.down.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while verifier.verify(&token(&compromised)).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the withdrawn key is still trusted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    verifier.verify(&token(&kept)).await.unwrap();
}

#[tokio::test]
async fn the_refresh_follows_max_age_within_its_bounds() {
    let key = SigningKey::generate("steady").unwrap();
    let server = JwksServer::start(key.jwks()).await;
    // An hour asked for, at most 300 ms allowed: fetched again within a second.
    *server.cache_control.lock().unwrap() = "max-age=3600".to_owned();
    let settings = AuthSettings {
        refresh: RefreshBounds {
            min: Duration::from_millis(100),
            max: Duration::from_millis(300),
        },
        ..server.settings()
    };
    let _verifier = JwtVerifier::from_settings(&settings).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.hits() < 3 {
        assert!(
            Instant::now() < deadline,
            "no periodic refresh: {} hits",
            server.hits()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        refresh: Default::default(),
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
