//! Every way a token can be wrong, through a real actix app: 401 problem+json.

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use spotter_auth::{Admin, Caller, Physio, Role, SigningKey, Trainer};
use uuid::Uuid;

use crate::common::*;

async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user_id": caller.user_id,
        "role": caller.role,
        "clinic_id": caller.clinic_id,
    }))
}

async fn trainer_only(trainer: Trainer) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": trainer.id }))
}

async fn physio_only(physio: Physio) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": physio.id, "clinic_id": physio.clinic_id }))
}

async fn admin_only(admin: Admin, path: web::Path<Uuid>) -> HttpResponse {
    if admin.may_manage(path.into_inner()) {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::NotFound().finish()
    }
}

macro_rules! app {
    ($verifier:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($verifier))
                .route("/me", web::get().to(me))
                .route("/trainer", web::get().to(trainer_only))
                .route("/physio", web::get().to(physio_only))
                .route("/admin/clinics/{id}", web::get().to(admin_only)),
        )
        .await
    };
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// (case, Authorization header, expected problem detail)
fn rejections(key: &SigningKey) -> Vec<(&'static str, Option<String>, String)> {
    let sub = Uuid::now_v7();
    let clinic = Uuid::now_v7();
    let good = claims("trainer", sub, None);
    let sign = |c: &Value| bearer(&key.sign(c).unwrap());
    let es256_header = |kid: Option<&str>| {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = kid.map(str::to_owned);
        h
    };
    let hs256_with = |secret: &[u8]| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(KID.into());
        bearer(&jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(secret)).unwrap())
    };
    let point = public_point(key);
    let stranger = SigningKey::generate("some-other-kid").unwrap();
    let impostor = SigningKey::generate(KID).unwrap();

    vec![
        (
            "no Authorization header",
            None,
            "missing bearer token".into(),
        ),
        (
            "Basic scheme",
            Some("Basic dXNlcjpwYXNz".into()),
            "authorization scheme must be Bearer".into(),
        ),
        (
            "Bearer without token",
            Some("Bearer ".into()),
            "missing bearer token".into(),
        ),
        (
            "garbage token",
            bearer("not-a.jwt.at-all"),
            "malformed token".into(),
        ),
        (
            "one-part garbage",
            bearer("garbage"),
            "malformed token".into(),
        ),
        (
            "alg none",
            bearer(&raw_token(
                json!({"alg": "none", "typ": "JWT", "kid": KID}),
                &good,
                b"",
            )),
            "malformed token".into(),
        ),
        (
            "HS256 keyed with public point 04||x||y",
            hs256_with(&point),
            "token algorithm not accepted".into(),
        ),
        (
            "HS256 keyed with x||y",
            hs256_with(&point[1..]),
            "token algorithm not accepted".into(),
        ),
        (
            "RS256 header",
            bearer(&raw_token(
                json!({"alg": "RS256", "typ": "JWT", "kid": KID}),
                &good,
                &[7u8; 256],
            )),
            "token algorithm not accepted".into(),
        ),
        (
            "ES384 header",
            bearer(&raw_token(
                json!({"alg": "ES384", "typ": "JWT", "kid": KID}),
                &good,
                &[7u8; 96],
            )),
            "token algorithm not accepted".into(),
        ),
        (
            "expired beyond leeway",
            sign(&with(good.clone(), "exp", json!(now() - 120))),
            "token expired".into(),
        ),
        (
            "nbf beyond leeway",
            sign(&with(good.clone(), "nbf", json!(now() + 120))),
            "token not yet valid".into(),
        ),
        (
            "wrong iss",
            sign(&with(good.clone(), "iss", json!("https://evil.test/"))),
            "token issuer not accepted".into(),
        ),
        (
            "missing iss",
            sign(&without(good.clone(), "iss")),
            "token is missing claim `iss`".into(),
        ),
        (
            "wrong aud",
            sign(&with(good.clone(), "aud", json!("someone-else"))),
            "token audience not accepted".into(),
        ),
        (
            "missing aud",
            sign(&without(good.clone(), "aud")),
            "token is missing claim `aud`".into(),
        ),
        (
            "missing exp",
            sign(&without(good.clone(), "exp")),
            "token is missing claim `exp`".into(),
        ),
        (
            "unknown kid",
            bearer(&stranger.sign(&good).unwrap()),
            "unknown signing key".into(),
        ),
        (
            "missing kid",
            bearer(&jsonwebtoken::encode(&es256_header(None), &good, key.encoding_key()).unwrap()),
            "token has no key id".into(),
        ),
        (
            "jku pointing elsewhere is ignored, kid still required",
            bearer(&raw_token(
                json!({"alg": "ES256", "jku": "https://evil.test/jwks"}),
                &good,
                &[1u8; 64],
            )),
            "token has no key id".into(),
        ),
        (
            "missing sub",
            sign(&without(good.clone(), "sub")),
            "token is missing claim `sub`".into(),
        ),
        (
            "non-UUID sub",
            sign(&with(good.clone(), "sub", json!("alice"))),
            "token claim `sub` is invalid".into(),
        ),
        (
            "missing role",
            sign(&without(good.clone(), "role")),
            "token is missing claim `role`".into(),
        ),
        (
            "unknown role",
            sign(&with(good.clone(), "role", json!("superuser"))),
            "token claim `role` is invalid".into(),
        ),
        (
            "physio without clinic_id",
            sign(&claims("physio", sub, None)),
            "token is missing claim `clinic_id`".into(),
        ),
        (
            "clinic admin with bad clinic_id",
            sign(&with(
                claims("clinic_admin", sub, Some(clinic)),
                "clinic_id",
                json!("clinic-7"),
            )),
            "token claim `clinic_id` is invalid".into(),
        ),
        (
            "another ES256 key claiming the trusted kid",
            bearer(&impostor.sign(&good).unwrap()),
            "invalid token signature".into(),
        ),
        (
            "tampered payload",
            bearer(&{
                let token = key.sign(&good).unwrap();
                let parts: Vec<&str> = token.split('.').collect();
                let forged = raw_token(
                    json!({}),
                    &with(good.clone(), "role", json!("platform_admin")),
                    b"",
                );
                let forged_payload = forged.split('.').nth(1).unwrap();
                format!("{}.{}.{}", parts[0], forged_payload, parts[2])
            }),
            "invalid token signature".into(),
        ),
    ]
}

#[actix_web::test]
async fn bad_tokens_get_401_problem_json() {
    let (key, verifier) = fixture();
    let app = app!(verifier);
    let cases = rejections(&key);
    for path in ["/me", "/trainer"] {
        for (case, authorization, detail) in &cases {
            let mut req = test::TestRequest::get().uri(path);
            if let Some(value) = authorization {
                req = req.insert_header((header::AUTHORIZATION, value.as_str()));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case} on {path}");
            assert_eq!(
                res.headers().get(header::CONTENT_TYPE).unwrap(),
                "application/problem+json",
                "{case}"
            );
            assert_eq!(
                res.headers().get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer",
                "{case}"
            );
            let body: Value = test::read_body_json(res).await;
            assert_eq!(body["status"], 401, "{case}");
            assert_eq!(body["detail"], detail.as_str(), "{case} on {path}");
        }
    }
}

#[actix_web::test]
async fn valid_tokens_reach_the_handler() {
    let (key, verifier) = fixture();
    let app = app!(verifier);
    let trainer = Uuid::now_v7();
    let physio = Uuid::now_v7();
    let clinic = Uuid::now_v7();
    let trainer_token = key.sign(&claims("trainer", trainer, None)).unwrap();
    let physio_token = key.sign(&claims("physio", physio, Some(clinic))).unwrap();

    let get = |path: &str, token: &str| {
        test::TestRequest::get()
            .uri(path)
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request()
    };

    let body: Value = test::call_and_read_body_json(&app, get("/me", &trainer_token)).await;
    assert_eq!(
        body,
        json!({"user_id": trainer, "role": "trainer", "clinic_id": null})
    );
    let body: Value = test::call_and_read_body_json(&app, get("/trainer", &trainer_token)).await;
    assert_eq!(body["id"], json!(trainer));

    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let req = test::TestRequest::get()
        .uri("/trainer")
        .insert_header((header::AUTHORIZATION, format!("bearer {trainer_token}")))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);

    let body: Value = test::call_and_read_body_json(&app, get("/me", &physio_token)).await;
    assert_eq!(
        body,
        json!({"user_id": physio, "role": "physio", "clinic_id": clinic})
    );
    let body: Value = test::call_and_read_body_json(&app, get("/physio", &physio_token)).await;
    assert_eq!(body, json!({"id": physio, "clinic_id": clinic}));

    // Leeway: expired 10 s ago is still inside the 30 s allowance.
    let late = key
        .sign(&with(
            claims("trainer", trainer, None),
            "exp",
            json!(now() - 10),
        ))
        .unwrap();
    let res = test::call_service(&app, get("/trainer", &late)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn wrong_role_gets_403_problem_json() {
    let (key, verifier) = fixture();
    let app = app!(verifier);
    let trainer_token = key.sign(&claims("trainer", Uuid::now_v7(), None)).unwrap();
    let req = test::TestRequest::get()
        .uri("/physio")
        .insert_header((header::AUTHORIZATION, format!("Bearer {trainer_token}")))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["status"], 403);
}

#[actix_web::test]
async fn admin_extractor_scopes_clinic_admins_to_their_clinic() {
    let (key, verifier) = fixture();
    let app = app!(verifier);
    let own = Uuid::now_v7();
    let other = Uuid::now_v7();
    let clinic_admin = key
        .sign(&claims("clinic_admin", Uuid::now_v7(), Some(own)))
        .unwrap();
    let platform_admin = key
        .sign(&claims("platform_admin", Uuid::now_v7(), None))
        .unwrap();
    let physio = key
        .sign(&claims("physio", Uuid::now_v7(), Some(own)))
        .unwrap();
    let cases = [
        (&clinic_admin, own, StatusCode::OK),
        (&clinic_admin, other, StatusCode::NOT_FOUND),
        (&platform_admin, other, StatusCode::OK),
        (&physio, own, StatusCode::FORBIDDEN),
    ];
    for (token, clinic, status) in cases {
        let req = test::TestRequest::get()
            .uri(&format!("/admin/clinics/{clinic}"))
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), status);
    }
}

#[actix_web::test]
async fn missing_verifier_is_a_500_not_a_401() {
    let app = test::init_service(App::new().route("/me", web::get().to(me))).await;
    let req = test::TestRequest::get()
        .uri("/me")
        .insert_header((header::AUTHORIZATION, "Bearer x.y.z"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn test_auth_helper_tokens_are_accepted() {
    let auth = spotter_auth::testing::TestAuth::new();
    let app = test::init_service(
        App::new()
            .app_data(auth.data())
            .route("/physio", web::get().to(physio_only)),
    )
    .await;
    let (id, clinic) = (Uuid::now_v7(), Uuid::now_v7());
    let req = test::TestRequest::get()
        .uri("/physio")
        .insert_header(auth.header(Role::Physio, id, Some(clinic)))
        .to_request();
    let body: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(body, json!({"id": id, "clinic_id": clinic}));
}
