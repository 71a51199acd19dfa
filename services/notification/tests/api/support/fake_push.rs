//! Local stand-ins for FCM and APNs that check what the real ones check:
//! FCM's token endpoint verifies the RS256 assertion against the service
//! account's public key and `messages:send` wants one of the access tokens it
//! issued; APNs wants HTTP/2 and an ES256 provider token from the right team
//! and key, the topic, push type, priority and collapse id; both refuse a
//! payload over 4 KiB. A test can script a failure per device token.

use actix_web::http::Version;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use spotter_platform::settings::{ApnsSettings, FcmSettings, Settings};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const PROJECT: &str = "spotter-test";
pub const CLIENT_EMAIL: &str = "push@spotter-test.iam.gserviceaccount.com";
pub const TEAM_ID: &str = "TEAM123456";
pub const KEY_ID: &str = "KEY1234567";
pub const TOPIC: &str = "app.spotter.mobile";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const MAX_PAYLOAD: usize = 4096;

/// An FCM service-account key and an APNs key, as PEM, with their public halves.
pub struct Keys {
    rsa_pem: String,
    rsa_public: Vec<u8>,
    ec_pem: String,
    ec_public: Vec<u8>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl Keys {
    pub fn generate() -> Self {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_der = AsDer::as_der(&rsa).unwrap();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let ec_der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_der.as_ref()).unwrap();
        Self {
            rsa_pem: pem("PRIVATE KEY", rsa_der.as_ref()),
            rsa_public: rsa.public_key().as_ref().to_vec(),
            ec_pem: pem("PRIVATE KEY", ec_der.as_ref()),
            ec_public: ec.public_key().as_ref().to_vec(),
        }
    }
}

/// What a test can make a provider answer for one device token (once each).
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// 503 with `Retry-After` of this many seconds.
    Unavailable(u64),
    /// FCM: 404 UNREGISTERED; APNs: 410 Unregistered.
    Unregistered,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub provider: &'static str,
    pub device_token: String,
    pub payload: Value,
    /// APNs request headers (`apns-*`), lower-case.
    pub headers: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Record {
    pub received: Mutex<Vec<Received>>,
    pub token_requests: AtomicUsize,
    scripts: Mutex<HashMap<String, VecDeque<Failure>>>,
    access_tokens: Mutex<Vec<String>>,
}

struct Trust {
    fcm: DecodingKey,
    apns: DecodingKey,
    token_uri: String,
    record: Arc<Record>,
}

pub struct FakePush {
    pub record: Arc<Record>,
    pub fcm_url: String,
    pub apns_url: String,
    dir: tempfile::TempDir,
    servers: Vec<actix_web::dev::ServerHandle>,
}

impl FakePush {
    /// Both fakes, trusting freshly made keys (`keys`, to configure a
    /// service that should be trusted).
    pub async fn start() -> (Self, Keys) {
        let keys = Keys::generate();
        let fake = Self::trusting(&keys).await;
        (fake, keys)
    }

    pub async fn trusting(keys: &Keys) -> Self {
        let record = Arc::new(Record::default());
        let fcm_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let apns_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fcm_url = format!("http://{}", fcm_listener.local_addr().unwrap());
        let apns_url = format!("http://{}", apns_listener.local_addr().unwrap());
        let trust = web::Data::new(Trust {
            fcm: DecodingKey::from_rsa_der(&keys.rsa_public),
            apns: DecodingKey::from_ec_der(&keys.ec_public),
            token_uri: format!("{fcm_url}/token"),
            record: record.clone(),
        });
        let fcm_trust = trust.clone();
        let fcm = HttpServer::new(move || {
            App::new()
                .app_data(fcm_trust.clone())
                .route("/token", web::post().to(fcm_token))
                .route(
                    "/v1/projects/{project}/messages:send",
                    web::post().to(fcm_send),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(fcm_listener)
        .unwrap()
        .run();
        let apns = HttpServer::new(move || {
            App::new()
                .app_data(trust.clone())
                .route("/3/device/{token}", web::post().to(apns_send))
        })
        .workers(1)
        .disable_signals()
        .listen_auto_h2c(apns_listener)
        .unwrap()
        .run();
        let servers = vec![fcm.handle(), apns.handle()];
        tokio::spawn(fcm);
        tokio::spawn(apns);
        Self {
            record,
            fcm_url,
            apns_url,
            dir: tempfile::tempdir().unwrap(),
            servers,
        }
    }

    /// Points the service's push settings at these fakes, signing with `keys`.
    pub fn configure(&self, settings: &mut Settings, keys: &Keys) {
        let account = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "k1",
            "private_key": keys.rsa_pem,
            "client_email": CLIENT_EMAIL,
            "token_uri": format!("{}/token", self.fcm_url),
        });
        let name = uuid::Uuid::new_v4().simple().to_string();
        let account_file = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&account_file, account.to_string()).unwrap();
        let key_file: PathBuf = self.dir.path().join(format!("{name}.p8"));
        std::fs::write(&key_file, &keys.ec_pem).unwrap();
        settings.push.fcm = Some(FcmSettings {
            service_account_file: account_file.display().to_string(),
            endpoint: self.fcm_url.clone(),
        });
        settings.push.allow_plain_http_for_tests = true;
        settings.push.apns = Some(ApnsSettings {
            key_file: key_file.display().to_string(),
            key_id: KEY_ID.into(),
            team_id: TEAM_ID.into(),
            topic: TOPIC.into(),
            endpoint: self.apns_url.clone(),
        });
    }

    /// The next answers for `device_token`, in order (then success).
    pub fn script(&self, device_token: &str, failures: &[Failure]) {
        self.record
            .scripts
            .lock()
            .unwrap()
            .entry(device_token.to_owned())
            .or_default()
            .extend(failures);
    }

    pub fn received(&self) -> Vec<Received> {
        self.record.received.lock().unwrap().clone()
    }
}

impl Drop for FakePush {
    fn drop(&mut self) {
        for server in &self.servers {
            drop(server.stop(false));
        }
    }
}

fn next_failure(record: &Record, device_token: &str) -> Option<Failure> {
    record
        .scripts
        .lock()
        .unwrap()
        .get_mut(device_token)
        .and_then(VecDeque::pop_front)
}

fn fcm_error(status: u16, code: &str, error_code: Option<&str>) -> HttpResponse {
    let details: Vec<Value> = error_code
        .map(|c| json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}))
        .into_iter()
        .collect();
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(
        json!({"error": {"code": status, "message": code, "status": code, "details": details}}),
    )
}

#[derive(serde::Deserialize)]
struct TokenRequest {
    grant_type: String,
    assertion: String,
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    scope: String,
    iat: i64,
    exp: i64,
}

async fn fcm_token(trust: web::Data<Trust>, form: web::Form<TokenRequest>) -> HttpResponse {
    trust.record.token_requests.fetch_add(1, Ordering::SeqCst);
    if form.grant_type != JWT_BEARER {
        return HttpResponse::BadRequest().json(json!({"error": "unsupported_grant_type"}));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&trust.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims =
        match jsonwebtoken::decode::<AssertionClaims>(&form.assertion, &trust.fcm, &validation) {
            Ok(data) => data.claims,
            Err(_) => {
                return HttpResponse::BadRequest().json(
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
            );
            }
        };
    if !claims.scope.split(' ').any(|s| s == SCOPE) || claims.exp - claims.iat > 3600 {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_scope"}));
    }
    let token = format!("ya29.{}", uuid::Uuid::new_v4().simple());
    trust
        .record
        .access_tokens
        .lock()
        .unwrap()
        .push(token.clone());
    HttpResponse::Ok()
        .json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
}

fn fcm_message_problem(message: &Value) -> Option<&'static str> {
    let m = &message["message"];
    if m["token"].as_str().is_none_or(str::is_empty) {
        return Some("message.token is required");
    }
    if m["notification"]["title"].as_str().is_none() || m["notification"]["body"].as_str().is_none()
    {
        return Some("message.notification needs a title and a body");
    }
    if !m["data"]
        .as_object()
        .is_some_and(|d| d.values().all(Value::is_string))
    {
        return Some("message.data values must be strings");
    }
    if !matches!(m["android"]["priority"].as_str(), Some("HIGH" | "NORMAL")) {
        return Some("message.android.priority must be HIGH or NORMAL");
    }
    None
}

async fn fcm_send(
    trust: web::Data<Trust>,
    path: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !trust
        .record
        .access_tokens
        .lock()
        .unwrap()
        .iter()
        .any(|t| t == bearer)
    {
        return fcm_error(401, "UNAUTHENTICATED", None);
    }
    if path.into_inner() != PROJECT {
        return fcm_error(403, "PERMISSION_DENIED", None);
    }
    if body.len() > MAX_PAYLOAD {
        return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"));
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return fcm_error(400, "INVALID_ARGUMENT", None);
    };
    if fcm_message_problem(&message).is_some() {
        return fcm_error(400, "INVALID_ARGUMENT", Some("INVALID_ARGUMENT"));
    }
    let device_token = message["message"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match next_failure(&trust.record, &device_token) {
        Some(Failure::Unavailable(seconds)) => {
            let mut response = fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE"));
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                seconds.to_string().parse().unwrap(),
            );
            return response;
        }
        Some(Failure::Unregistered) => return fcm_error(404, "NOT_FOUND", Some("UNREGISTERED")),
        None => {}
    }
    trust.record.received.lock().unwrap().push(Received {
        provider: "fcm",
        device_token,
        payload: message,
        headers: BTreeMap::new(),
    });
    HttpResponse::Ok().json(
        json!({"name": format!("projects/{PROJECT}/messages/{}", uuid::Uuid::new_v4().simple())}),
    )
}

fn apns_error(status: u16, reason: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"reason": reason}))
}

#[derive(serde::Deserialize)]
struct ProviderClaims {
    iat: i64,
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Why APNs would refuse the request before looking at the device, if it would.
fn apns_problem(trust: &Trust, request: &HttpRequest, body: &[u8]) -> Option<(u16, &'static str)> {
    if request.version() != Version::HTTP_2 {
        return Some((400, "BadRequest: HTTP/2 only"));
    }
    let Some(jwt) = header(request, "authorization").and_then(|v| v.strip_prefix("bearer ")) else {
        return Some((403, "MissingProviderToken"));
    };
    let kid_ok = jsonwebtoken::decode_header(jwt)
        .is_ok_and(|h| h.kid.as_deref() == Some(KEY_ID) && h.alg == Algorithm::ES256);
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[TEAM_ID]);
    validation.set_required_spec_claims(&["iss"]);
    validation.validate_exp = false;
    let Ok(token) = jsonwebtoken::decode::<ProviderClaims>(jwt, &trust.apns, &validation) else {
        return Some((403, "InvalidProviderToken"));
    };
    if !kid_ok {
        return Some((403, "InvalidProviderToken"));
    }
    if chrono::Utc::now().timestamp() - token.claims.iat > 3600 {
        return Some((403, "ExpiredProviderToken"));
    }
    match header(request, "apns-topic") {
        None => return Some((400, "MissingTopic")),
        Some(topic) if topic != TOPIC => return Some((400, "TopicDisallowed")),
        Some(_) => {}
    }
    if !matches!(
        header(request, "apns-push-type"),
        Some("alert" | "background")
    ) {
        return Some((400, "InvalidPushType"));
    }
    if !matches!(header(request, "apns-priority"), None | Some("5" | "10")) {
        return Some((400, "BadPriority"));
    }
    if header(request, "apns-collapse-id").is_some_and(|c| c.len() > 64) {
        return Some((400, "BadCollapseId"));
    }
    if body.len() > MAX_PAYLOAD {
        return Some((413, "PayloadTooLarge"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(payload) if payload["aps"].is_object() => None,
        _ => Some((400, "PayloadEmpty")),
    }
}

async fn apns_send(
    trust: web::Data<Trust>,
    path: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some((status, reason)) = apns_problem(&trust, &request, &body) {
        return apns_error(status, reason);
    }
    let device_token = path.into_inner();
    if device_token.len() != 64 || !device_token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return apns_error(400, "BadDeviceToken");
    }
    match next_failure(&trust.record, &device_token) {
        Some(Failure::Unavailable(seconds)) => {
            return HttpResponse::ServiceUnavailable()
                .insert_header(("retry-after", seconds.to_string()))
                .json(json!({"reason": "ServiceUnavailable"}));
        }
        Some(Failure::Unregistered) => {
            return HttpResponse::Gone()
                .json(json!({"reason": "Unregistered", "timestamp": chrono::Utc::now().timestamp_millis()}));
        }
        None => {}
    }
    let headers = request
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("apns-"))
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    trust.record.received.lock().unwrap().push(Received {
        provider: "apns",
        device_token,
        payload: serde_json::from_slice(&body).unwrap(),
        headers,
    });
    HttpResponse::Ok()
        .insert_header(("apns-id", uuid::Uuid::new_v4().to_string()))
        .finish()
}

/// A server answering every request with `307` to the same path at
/// `target`, as a hijacked or misconfigured endpoint might. Stops on drop.
pub struct Redirector {
    pub url: String,
    server: actix_web::dev::ServerHandle,
}

impl Redirector {
    pub fn to(target: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.to_owned();
        let server = HttpServer::new(move || {
            let target = target.clone();
            App::new().default_service(web::to(move |request: actix_web::HttpRequest| {
                let location = format!("{target}{}", request.uri());
                async move {
                    HttpResponse::TemporaryRedirect()
                        .insert_header(("Location", location))
                        .finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            server: handle,
        }
    }
}

impl Drop for Redirector {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}
