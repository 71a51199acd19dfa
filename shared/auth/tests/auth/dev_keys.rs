//! The dev key pair is made once and reused.

use std::time::Duration;

use spotter_auth::{DEV_ISSUER, DEV_KID_PREFIX, JwtVerifier, Role, ensure_dev_keys, token_for};
use uuid::Uuid;

use crate::common::AUDIENCE;

#[tokio::test]
async fn ensure_dev_keys_is_stable_and_private() {
    let dir = std::env::temp_dir().join(format!("spotter-auth-dev-{}", Uuid::new_v4()));
    let first = ensure_dev_keys(&dir).unwrap();
    let second = ensure_dev_keys(&dir).unwrap();
    assert_eq!(first.key.kid(), second.key.kid());
    assert!(first.key.kid().starts_with(DEV_KID_PREFIX));
    assert_eq!(first.jwks_path, dir.join("jwks.json"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p != &first.jwks_path)
            .collect();
        assert_eq!(key_files.len(), 1, "{key_files:?}");
        let mode = std::fs::metadata(&key_files[0])
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A token from the first load verifies against the JWKS file written for the second.
    let jwks = spotter_auth_jwks(&second.jwks_path);
    assert_eq!(jwks.keys.len(), 1);
    let verifier = JwtVerifier::from_jwks(jwks, DEV_ISSUER, AUDIENCE, true).unwrap();
    let sub = Uuid::now_v7();
    let token = token_for(
        &first.key,
        DEV_ISSUER,
        AUDIENCE,
        Role::Trainer,
        sub,
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, sub);

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_first_use_agrees_on_one_key() {
    let dir = std::env::temp_dir().join(format!("spotter-auth-race-{}", Uuid::new_v4()));
    let kids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| ensure_dev_keys(&dir).unwrap().key.kid().to_owned()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(kids.windows(2).all(|w| w[0] == w[1]), "{kids:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn spotter_auth_jwks(path: &std::path::Path) -> jsonwebtoken::jwk::JwkSet {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
