//! `amqps://` with the broker's CA from `broker.ca_file`. This machine's
//! RabbitMQ has no TLS listener, so the test puts a TLS terminator in front
//! of it (as a load balancer terminating TLS does): the service's link to it
//! is real TLS, and behind it the real broker answers.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use secrecy::SecretString;
use spotter_messaging::Broker;
use spotter_messaging::testing::BrokerCleanup;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A CA and a certificate it signed for localhost: (CA PEM, server config).
fn certificates() -> (String, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let chain = vec![CertificateDer::from(server.der().to_vec())];
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    (ca.pem(), config)
}

/// Accepts TLS on a free port and relays each connection to RabbitMQ.
async fn tls_terminator(config: rustls::ServerConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut broker) = TcpStream::connect("127.0.0.1:5672").await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn amqps_with_the_brokers_ca_connects_and_an_unknown_ca_is_refused() {
    let (ca_pem, server_config) = certificates();
    let port = tls_terminator(server_config).await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca_pem).unwrap();

    let mut plain = spotter_platform::settings::load_from("test", None)
        .unwrap()
        .broker;
    let prefix = format!("tls{}.", uuid::Uuid::now_v7().simple());
    plain.exchange = format!("{prefix}spotter.events");
    plain.queue_prefix = prefix;
    let mut settings = plain.clone();
    settings.url = SecretString::from(format!("amqps://guest:guest@localhost:{port}/%2f"));
    settings.ca_file = Some(ca_file.path().to_owned());
    // Removed afterwards over the plain link.
    let _cleanup = BrokerCleanup {
        settings: plain,
        consumers: Vec::new(),
    };
    let shutdown = CancellationToken::new();
    let broker = Broker::start(&settings, "tls-test", shutdown.clone());
    let connected = tokio::time::timeout(Duration::from_secs(20), broker.connected(&shutdown))
        .await
        .expect("no amqps connection within 20 s");
    assert!(connected.is_some());
    // Through TLS the whole topology was declared on the real broker.
    let depth = broker
        .queue_depth(&settings.queue_name("booking.referrals.urgent"))
        .await;
    assert!(depth.is_ok(), "{depth:?}");
    shutdown.cancel();

    // Without the CA, the OS trust store does not vouch for this certificate.
    let refused = lapin::Connection::connect(
        &format!("amqps://guest:guest@localhost:{port}/%2f"),
        lapin::ConnectionProperties::default(),
    )
    .await;
    assert!(refused.is_err(), "an unknown CA was trusted");
}
