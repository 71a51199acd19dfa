//! Connections to PostgreSQL, encrypted when the URL asks for it.
//!
//! The URL carries TLS the way libpq reads it, so an operator's existing
//! connection string works unchanged (docs/architecture.md, "Encrypted links"):
//!
//! | `sslmode=`      | encrypted      | server certificate checked          |
//! |-----------------|----------------|-------------------------------------|
//! | absent, disable | no             | —                                   |
//! | prefer          | if the server can | no                               |
//! | require         | yes            | no (like libpq without a root file) |
//! | verify-ca       | yes            | chain to `sslrootcert`              |
//! | verify-full     | yes            | chain to `sslrootcert`, and the host name |
//!
//! `sslrootcert` is a PEM file, or `system` for the operating system's trust
//! store (as libpq 16 spells it); the verify modes require it. TLS is rustls,
//! so no OpenSSL or libpq is linked.

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use percent_encoding::percent_decode_str;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use spotter_platform::settings::url_parts;
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A parsed connection URL: where to connect and how to secure the link.
/// Parse once (a bad URL or CA file fails at start), connect many times.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

/// What `sslmode` asks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }
}

impl PgTarget {
    /// Parses a `postgres://` URL, taking `sslmode` and `sslrootcert` out of
    /// it. The error names what is wrong but never echoes the URL (it may
    /// hold a password).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let (base, query) = split_query(url)?;
        let mut mode = None;
        let mut root = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent_decode_str(value).decode_utf8_lossy().into_owned();
            match key {
                "sslmode" => mode = Some(Mode::parse(&decoded).map_err(anyhow::Error::msg)?),
                "sslrootcert" => root = Some(decoded),
                _ => rest.push(pair),
            }
        }
        let mode = settle(mode, root.as_deref())?;
        let plain = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&plain)
            .map_err(|e| anyhow::anyhow!("database URL: {e}"))?;
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        });
        let tls = match mode {
            Mode::Disable => None,
            mode => Some(MakeRustlsConnect::new(client_config(
                mode,
                root.as_deref(),
            )?)),
        };
        Ok(Self { config, tls })
    }

    /// One new connection, as diesel-async's own `establish` makes it, but
    /// through the TLS connector when the URL asked for one.
    pub async fn connect(&self) -> Result<AsyncPgConnection, ConnectionError> {
        let failed = |e: tokio_postgres::Error| ConnectionError::BadConnection(with_causes(&e));
        match &self.tls {
            None => {
                let (client, connection) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(failed)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
            Some(tls) => {
                let (client, connection) =
                    self.config.connect(tls.clone()).await.map_err(failed)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
        }
    }
}

/// "error performing TLS handshake" alone does not tell an operator that the
/// certificate was refused, or why: the causes are in the source chain.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// One connection from a URL (migrations, LISTEN, creating databases).
pub async fn establish(url: &str) -> anyhow::Result<AsyncPgConnection> {
    Ok(PgTarget::parse(url)?.connect().await?)
}

/// `postgres://…` split at the query, which starts after the host
/// (`url_parts`): an `@` in the query is no end of a password, so `sslmode`
/// is always seen.
fn split_query(url: &str) -> anyhow::Result<(&str, &str)> {
    anyhow::ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "database URL: must start with postgres:// or postgresql://"
    );
    Ok(match url_parts(url).query {
        Some(query) => (&url[..url.len() - query.len() - 1], query),
        None => (url, ""),
    })
}

/// The mode to use, refusing combinations that look secure and are not:
/// a root file without a mode (libpq would not check it), and the OS trust
/// store with anything less than `verify-full` (any public certificate
/// would pass; libpq 16 refuses it too, and defaults to `verify-full`).
fn settle(mode: Option<Mode>, root: Option<&str>) -> anyhow::Result<Mode> {
    match (mode, root) {
        (None, None) => Ok(Mode::Disable),
        (None | Some(Mode::VerifyFull), Some("system")) => Ok(Mode::VerifyFull),
        (Some(_), Some("system")) => {
            anyhow::bail!("sslrootcert=system needs sslmode=verify-full (or no sslmode)")
        }
        (None, Some(_)) => {
            anyhow::bail!("sslrootcert needs an sslmode: verify-full, verify-ca or require")
        }
        (Some(mode), _) => Ok(mode),
    }
}

/// ring, named explicitly: two rustls providers are compiled into the
/// workspace (lapin brings aws-lc-rs), so rustls cannot pick one by itself.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(mode: Mode, root: Option<&str>) -> anyhow::Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, root) {
        (Mode::VerifyCa | Mode::VerifyFull, None) => anyhow::bail!(
            "sslmode=verify-ca and verify-full need sslrootcert: a PEM file, or `system` for the OS trust store"
        ),
        (_, None) => Arc::new(Lenient {
            algorithms,
            chain: None,
        }),
        // With a root file, `require` checks the chain, as libpq does.
        (_, Some(root)) => {
            let chain = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(root)?),
                provider.clone(),
            )
            .build()?;
            if mode == Mode::VerifyFull {
                chain
            } else {
                Arc::new(Lenient {
                    algorithms,
                    chain: Some(chain),
                })
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn roots(root: &str) -> anyhow::Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    if root == "system" {
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
    } else {
        let certs = CertificateDer::pem_file_iter(root)
            .map_err(|e| anyhow::anyhow!("sslrootcert {root}: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| anyhow::anyhow!("sslrootcert {root}: {e}"))?;
            store.add(cert)?;
        }
    }
    anyhow::ensure!(!store.is_empty(), "sslrootcert {root}: no certificates");
    Ok(store)
}

/// The modes other than `verify-full` (which is rustls' own WebPKI verifier):
/// the handshake's signatures are always checked; the certificate as asked.
#[derive(Debug)]
struct Lenient {
    algorithms: WebPkiSupportedAlgorithms,
    /// `verify-ca`: the chain must lead to a trusted root, but the name in the
    /// certificate is not compared with the host. `None` for `prefer` and
    /// `require` without a root file: anyone's certificate is taken, as
    /// libpq does in those modes (the verify modes are the secure ones).
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_and_the_rest_kept() {
        let target = PgTarget::parse(
            "postgres://u:secret@db.example:6543/spotter?application_name=x&sslmode=require",
        )
        .unwrap();
        assert!(target.tls.is_some());
        assert_eq!(target.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(target.config.get_application_name(), Some("x"));
        assert_eq!(target.config.get_dbname(), Some("spotter"));
    }

    #[test]
    fn delimiters_in_the_password_or_an_at_in_the_query_do_not_hide_sslmode() {
        // Percent-encoded, as URLs spell them and `with_userinfo` writes them.
        let target = PgTarget::parse("postgres://u:a%3Fb%40c@h/db?sslmode=require").unwrap();
        assert!(target.tls.is_some());
        assert_eq!(target.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(target.config.get_password(), Some(&b"a?b@c"[..]));
        let target =
            PgTarget::parse("postgres://u:pw@h/db?sslmode=require&application_name=a@b").unwrap();
        assert!(
            target.tls.is_some(),
            "an @ in the query is no end of a password"
        );
        assert_eq!(target.config.get_application_name(), Some("a@b"));
    }

    #[test]
    fn the_os_trust_store_means_verify_full() {
        assert_eq!(settle(None, Some("system")).unwrap(), Mode::VerifyFull);
        assert_eq!(
            settle(Some(Mode::VerifyFull), Some("system")).unwrap(),
            Mode::VerifyFull
        );
        assert!(settle(Some(Mode::VerifyCa), Some("system")).is_err());
    }

    #[test]
    fn no_sslmode_means_a_plain_connection() {
        let target = PgTarget::parse("postgres://u@h/db").unwrap();
        assert!(target.tls.is_none());
        assert_eq!(target.config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_the_url() {
        for (url, expected) in [
            ("postgres://u:pw@h/db?sslmode=maybe", "sslmode \"maybe\""),
            (
                "postgres://u:pw@h/db?sslmode=verify-full",
                "need sslrootcert",
            ),
            (
                "postgres://u:pw@h/db?sslmode=verify-ca&sslrootcert=/nonexistent.pem",
                "sslrootcert /nonexistent.pem",
            ),
            (
                "postgres://u:pw@h/db?sslrootcert=/ca.pem",
                "needs an sslmode",
            ),
            (
                "postgres://u:pw@h/db?sslmode=require&sslrootcert=system",
                "needs sslmode=verify-full",
            ),
            ("host=h user=u password=pw sslmode=require", "postgres://"),
        ] {
            let error = PgTarget::parse(url).err().unwrap().to_string();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("pw"), "{error}");
        }
    }
}
