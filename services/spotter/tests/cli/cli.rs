//! The `spotter` command as a newcomer uses it: `spotter dev` accepts tokens
//! from `spotter token`; production configuration refuses to run on dev keys.

use spotter::testing::DevProcess;
use std::path::Path;
use std::process::Command;
use uuid::Uuid;

const SPOTTER: &str = env!("CARGO_BIN_EXE_spotter");

/// `spotter token` against the dev process's keys.
fn token(stack: &DevProcess, args: &[&str]) -> String {
    let output = Command::new(SPOTTER)
        .arg("token")
        .args(args)
        .arg("--keys-dir")
        .arg(&stack.keys_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn spotter_dev_accepts_spotter_tokens_at_every_service() {
    let stack = DevProcess::start(Path::new(SPOTTER)).await;
    let client = reqwest::Client::new();
    let trainer = token(
        &stack,
        &["--role", "trainer", "--sub", &Uuid::now_v7().to_string()],
    );
    let admin = token(
        &stack,
        &[
            "--role",
            "platform_admin",
            "--sub",
            &Uuid::now_v7().to_string(),
            "--ttl",
            "5m",
        ],
    );

    let profile =
        serde_json::json!({"display_name": "Sam", "location": {"lat": 51.5, "lon": -0.12}});
    let response = client
        .put(format!("{}/v1/trainers/me", stack.base_url))
        .bearer_auth(&trainer)
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let clinic = serde_json::json!({"name": "C", "timezone": "Europe/Paris", "location": {"lat": 48.8, "lon": 2.3}, "service_radius_km": 5.0});
    let response = client
        .post(format!("{}/admin/v1/clinics", stack.base_url))
        .bearer_auth(&admin)
        .json(&clinic)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let response = client
        .get(format!("{}/v1/notifications", stack.base_url))
        .bearer_auth(&trainer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A token from another dev key pair (another machine's `spotter token`).
    let other_keys = std::env::temp_dir().join(format!("spotter-keys-{}", Uuid::new_v4().simple()));
    let output = Command::new(SPOTTER)
        .args([
            "token",
            "--role",
            "trainer",
            "--sub",
            &Uuid::now_v7().to_string(),
        ])
        .arg("--keys-dir")
        .arg(&other_keys)
        .output()
        .unwrap();
    let foreign = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let _ = std::fs::remove_dir_all(&other_keys);
    let response = client
        .get(format!("{}/v1/notifications", stack.base_url))
        .bearer_auth(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[test]
fn token_for_a_physio_needs_a_clinic() {
    let output = Command::new(SPOTTER)
        .args([
            "token",
            "--role",
            "physio",
            "--sub",
            &Uuid::now_v7().to_string(),
        ])
        .arg("--keys-dir")
        .arg(std::env::temp_dir().join(format!("spotter-keys-{}", Uuid::new_v4().simple())))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--clinic"));
}

#[test]
fn production_refuses_to_start_without_a_jwks() {
    let output = Command::new(SPOTTER)
        .args(["serve", "referral"])
        .env_remove("SPOTTER_AUTH__JWKS")
        .env("SPOTTER_AUTH__ISSUER", "https://idp.example.org")
        .env("SPOTTER_SERVER__PORT", "0")
        .output()
        .unwrap();
    assert!(!output.status.success(), "started without a JWKS");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .to_lowercase()
            .contains("jwks")
    );
}

#[test]
fn production_refuses_the_dev_key() {
    let keys_dir = std::env::temp_dir().join(format!("spotter-keys-{}", Uuid::new_v4().simple()));
    let keys = spotter_auth::ensure_dev_keys(&keys_dir).unwrap();
    let output = Command::new(SPOTTER)
        .args(["serve", "booking"])
        .env("SPOTTER_AUTH__JWKS", &keys.jwks_path)
        .env("SPOTTER_AUTH__ISSUER", "https://idp.example.org")
        .env("SPOTTER_SERVER__PORT", "0")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&keys_dir);
    assert!(!output.status.success(), "started on the dev key");
    assert!(String::from_utf8_lossy(&output.stderr).contains("dev"));
}

#[tokio::test]
async fn spotter_dev_stops_cleanly_on_sigterm() {
    let mut stack = DevProcess::start(Path::new(SPOTTER)).await;
    let mut child = stack.child.take().unwrap();
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    // The shutdown drains requests (10 s at most) and stops the relay and the
    // broker connections; a bound keeps a hang from stalling the suite.
    let exited = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("still running 20 s after SIGTERM");
    let status = exited.unwrap().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let refused = reqwest::get(format!("{}/livez", stack.base_url)).await;
    assert!(refused.is_err(), "the listener is closed");
}

#[tokio::test]
async fn spotter_demo_plays_the_whole_loop_twice_against_spotter_dev() {
    let stack = DevProcess::start_from_nothing(Path::new(SPOTTER)).await;
    for run in 1..=2 {
        let printed = demo(&stack, &format!("run {run}")).await;
        for seen in [
            "Appointment booked for your client",
            "New appointment booked with you",
            "New guidance from the physio",
            "Follow-up booked",
            "The trainer acknowledged your guidance",
            "acknowledged (guidance_acknowledged, version 1)",
        ] {
            assert!(
                printed.contains(seen),
                "run {run} did not show {seen:?}:\n{printed}"
            );
        }
        // The injury's story stays out of every notification shown.
        assert!(
            !printed.to_lowercase().contains("box jump"),
            "health detail printed:\n{printed}"
        );
    }
    each_database_belongs_to_its_service_alone(&stack).await;
}

/// Runs `spotter demo` against the stack; what it printed, once it succeeded.
async fn demo(stack: &DevProcess, what: &str) -> String {
    let output = tokio::process::Command::new(SPOTTER)
        .args(["demo", "--url", &stack.base_url])
        .arg("--keys-dir")
        .arg(&stack.keys_dir)
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

/// `make bench-load`'s shape: `spotter dev --work-elsewhere booking` serves
/// booking's API but consumes none of its queues; a `spotter serve booking`
/// on the same database and queues does all of booking's work, and the
/// whole loop runs through the two.
#[tokio::test]
async fn booking_can_work_in_a_process_of_its_own_beside_spotter_dev() {
    let mut stack = DevProcess::start_working_elsewhere(Path::new(SPOTTER), "booking").await;
    // Wait until the other services' consumers are attached: booking's would
    // have been started with them.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while stack
        .consumers_of("referral.booking-events")
        .await
        .unwrap_or(0)
        == 0
        || stack.consumers_of("notification.events").await.unwrap_or(0) == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "spotter dev's consumers never attached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for lane in ["booking.referrals.urgent", "booking.referrals.routine"] {
        assert_eq!(
            stack.consumers_of(lane).await,
            Some(0),
            "spotter dev consumes {lane}"
        );
    }

    stack.serve("booking");
    let printed = demo(&stack, "with booking's work elsewhere").await;
    assert!(
        printed.contains("Appointment booked for your client"),
        "{printed}"
    );
    // Booked by the one consumer of `spotter serve booking`.
    assert_eq!(
        stack.consumers_of("booking.referrals.routine").await,
        Some(1)
    );
}

/// Least privilege, as `make run` sets it up: each service's database is
/// owned by that service's role, and another service's role cannot even
/// connect to it (the whole loop above ran with these accounts).
async fn each_database_belongs_to_its_service_alone(stack: &DevProcess) {
    use secrecy::ExposeSecret;
    let admin = spotter_platform::settings::load_from("test", None)
        .unwrap()
        .database
        .with_database("postgres");
    let mut conn = spotter_db::establish(admin.url.expose_secret())
        .await
        .unwrap();
    for service in spotter::SERVICES {
        let owner = spotter_db::database_owner(&mut conn, &stack.database(service))
            .await
            .unwrap();
        assert_eq!(owner, Some(format!("spotter_{service}")));
    }
    // The booking role with the local default password `make run` uses.
    let as_booking = |service: &str| {
        admin
            .as_role("spotter_booking", "spotter-booking-dev")
            .with_database(&stack.database(service))
            .url
            .expose_secret()
            .to_owned()
    };
    spotter_db::establish(&as_booking("booking")).await.unwrap();
    let refused = spotter_db::establish(&as_booking("referral")).await;
    let error = refused
        .err()
        .expect("booking's role reached referral's database");
    assert!(error.to_string().contains("permission denied"), "{error}");
}

/// `spotter dev` keeps its signing keys in `.spotter/` under whatever folder
/// it runs in: neither git nor a docker build may pick them up from any depth.
#[test]
fn dev_keys_are_ignored_by_git_and_docker_at_any_depth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for ignore_file in [".gitignore", "deploy/docker/Dockerfile.dockerignore"] {
        // The same patterns in a repository of their own, so each file is judged alone.
        let scratch = std::env::temp_dir().join(format!("spotter-ignore-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::copy(root.join(ignore_file), scratch.join(".gitignore")).unwrap();
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(&scratch)
                .args(args)
                .output()
                .unwrap()
        };
        assert!(git(&["init", "-q"]).status.success());
        for key in [
            ".spotter/dev-keys/private.pem",
            "services/spotter/.spotter/dev-keys/private.pem",
        ] {
            let checked = git(&["check-ignore", "-q", "--no-index", key]);
            assert!(
                checked.status.success(),
                "{ignore_file} does not ignore {key}"
            );
        }
        std::fs::remove_dir_all(&scratch).unwrap();
    }
}
