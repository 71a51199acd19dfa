//! The dev stack's own key pair, made once per checkout and reused.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::DEV_KID_PREFIX;
use crate::signing::{SigningKey, generate_pkcs8};

/// Unencrypted PKCS#8 DER; `openssl pkey -inform DER -in …` reads it.
const PRIVATE_KEY_FILE: &str = "dev-signing-key.p8";
const JWKS_FILE: &str = "jwks.json";

/// The dev signing key and the JWKS file services should trust in dev mode.
#[derive(Debug, Clone)]
pub struct DevKeys {
    pub key: SigningKey,
    pub jwks_path: PathBuf,
}

/// Creates the dev key pair in `dir` on first use (private key mode 0600,
/// public `jwks.json`) and loads it afterwards. Safe to call from several
/// processes at once: exactly one key wins and everyone uses it.
/// The kid is [`DEV_KID_PREFIX`] plus a fingerprint of the public key, so a
/// production verifier recognises and refuses it.
pub fn ensure_dev_keys(dir: &Path) -> anyhow::Result<DevKeys> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key_path = dir.join(PRIVATE_KEY_FILE);
    let der = match fs::read(&key_path) {
        Ok(der) => {
            restrict_permissions(&key_path)?;
            der
        }
        Err(e) if e.kind() == ErrorKind::NotFound => create_private_key(&key_path)?,
        Err(e) => return Err(e).with_context(|| format!("reading {}", key_path.display())),
    };
    let key = SigningKey::from_pkcs8_der("", &der)
        .with_context(|| format!("loading dev key {}", key_path.display()))?;
    let kid = format!("{DEV_KID_PREFIX}{}", key.fingerprint());
    let key = key.with_kid(kid);

    // Always derived from the private key, so a stale or hand-edited
    // jwks.json heals itself.
    let jwks_path = dir.join(JWKS_FILE);
    let jwks = serde_json::to_vec_pretty(&key.jwks())?;
    if fs::read(&jwks_path).ok().as_deref() != Some(jwks.as_slice()) {
        let tmp = temp_path(&jwks_path);
        fs::write(&tmp, &jwks).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &jwks_path).with_context(|| format!("writing {}", jwks_path.display()))?;
    }
    Ok(DevKeys { key, jwks_path })
}

/// Writes a new key to a private temp file, then hard-links it into place:
/// the link fails if another process got there first, and then we use theirs.
/// Readers never see a half-written key.
fn create_private_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let der = generate_pkcs8()?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(&der)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    match result {
        Ok(()) => Ok(der),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("creating dev key {}", path.display())),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Created 0600 rather than chmod-ed afterwards: no window where others can read it.
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// A key file someone loosened (or copied with a lax umask) is tightened again.
#[cfg(unix)]
fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode != 0o600 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "dev key readable by others; setting 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod 600 {}", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}
