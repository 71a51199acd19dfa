//! A clinic's webhook receiver, on this machine: it records every request
//! and answers by path as a real one might, and the Standard Webhooks
//! reference library (Python, tests/webhooks/verify.py) checks signatures,
//! never Spotter's own signing code.
//!
//! Paths: `/ok` 204; `/flaky` 500 once, then 204; `/busy` 503 with
//! `Retry-After: 1` once, then 204; `/slow` answers after 3 s; `/fail`
//! always 500; `/redirect` 302 to `/ok` (which must not be followed).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Log {
    received: Mutex<Vec<Received>>,
}

pub struct Receiver {
    pub base: String,
    log: Arc<Log>,
    server: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, log: web::Data<Log>) -> HttpResponse {
    let path = req.path().to_owned();
    let headers = req
        .headers()
        .iter()
        .filter(|(name, _)| {
            name.as_str().starts_with("webhook-") || name.as_str() == "content-type"
        })
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let earlier = {
        let mut received = log.received.lock().unwrap();
        let earlier = received.iter().filter(|r| r.path == path).count();
        received.push(Received {
            path: path.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        earlier
    };
    match (path.as_str(), earlier) {
        ("/flaky", 0) | ("/fail", _) => HttpResponse::InternalServerError().body("receiver down"),
        ("/busy", 0) => HttpResponse::ServiceUnavailable()
            .insert_header(("retry-after", "1"))
            .finish(),
        ("/redirect", _) => HttpResponse::Found()
            .insert_header(("location", "/ok"))
            .finish(),
        ("/slow", 0) => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::NoContent().finish()
        }
        _ => HttpResponse::NoContent().finish(),
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let log = Arc::new(Log::default());
        let data = web::Data::from(log.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            log,
            server: handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (bounded) until `count` requests came to `path`.
    pub async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let got: Vec<Received> = self
                .log
                .received
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.path == path)
                .cloned()
                .collect();
            if got.len() >= count {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} requests to {path} in 30 s",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn all(&self, path: &str) -> Vec<Received> {
        self.log
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

/// For each request, whether the Standard Webhooks reference library
/// accepts it under `secret`: `None`, or the library's error.
pub fn verify(secret: &str, requests: &[Received]) -> Vec<Option<String>> {
    use std::io::Write;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("SPOTTER_WEBHOOKS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/webhooks-venv"))
        .join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make deps-test` (tests/webhooks/setup.sh) first",
        python.display()
    );
    let cases: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::json!({"secret": secret, "headers": r.headers, "body": r.body}))
        .collect();
    let mut child = std::process::Command::new(python)
        .arg(root.join("tests/webhooks/verify.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the verifier failed");
    serde_json::from_slice(&out.stdout).unwrap()
}
