//! Request extractors whose failures are problem+json naming the field at fault.
//!
//! actix's own `web::Json` reports "Json deserialize error" without saying which
//! field; the mobile app needs the JSON path (`location.lat`) to point at the input.

use crate::problem::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// A JSON body deserialized with field paths in its errors.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let essence = ct.split(';').next().unwrap_or("").trim();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::BadRequest(
                    "expected a JSON body with Content-Type: application/json".to_owned(),
                ));
            }
            let bytes = body.await.map_err(|err| {
                if err.as_response_error().status_code().as_u16() == 413 {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("the request body could not be read".to_owned())
                }
            })?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Deserializes `bytes`, mapping syntax errors to 400 and shape errors to 422
/// with the JSON path of the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match result {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return Err(match inner.classify() {
                Category::Data => {
                    let message = without_position(&inner.to_string());
                    ApiError::invalid(field_name(&path, &message), message)
                }
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::BadRequest(format!("malformed JSON: {inner}"))
                }
            });
        }
    };
    deserializer
        .end()
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Deserializes an already parsed JSON value with the same field-path errors
/// (for handlers that need the raw value too, e.g. to fingerprint it).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = without_position(&err.into_inner().to_string());
        ApiError::invalid(field_name(&path, &message), message)
    })
}

/// "missing field `x`" is reported at the parent's path; name the field itself.
fn field_name(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(field)) => field.to_owned(),
        (parent, Some(field)) => format!("{parent}.{field}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Location {
        lat: f64,
        lon: f64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        location: Location,
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn wrong_type_names_the_nested_field() {
        let err =
            parse_json::<Body>(br#"{"name":"a","location":{"lat":"x","lon":1}}"#).unwrap_err();
        assert_eq!(fields(err), ["location.lat"]);
    }

    #[test]
    fn missing_field_is_named_with_its_parent() {
        let err = parse_json::<Body>(br#"{"name":"a","location":{"lat":1}}"#).unwrap_err();
        assert_eq!(fields(err), ["location.lon"]);
        let err = parse_json::<Body>(br#"{"location":{"lat":1,"lon":2}}"#).unwrap_err();
        assert_eq!(fields(err), ["name"]);
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse_json::<Body>(br#"{"name": "#),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"name":"a","location":{"lat":1,"lon":2}} trailing"#),
            Err(ApiError::BadRequest(_))
        ));
    }
}

/// The request's `Idempotency-Key` header, if it sent one (1–200 visible
/// ASCII characters, else 422 naming the header), and what the key is for:
/// the method, the route pattern actix matched and that route's path
/// parameters. The same key sent to another route, or for another resource
/// on the same route, is another request, never a replay of this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: Option<String>,
    pub scope: String,
}

impl IdempotencyKey {
    pub fn parse(value: &[u8]) -> Result<String, ApiError> {
        let valid =
            !value.is_empty() && value.len() <= 200 && value.iter().all(u8::is_ascii_graphic);
        match std::str::from_utf8(value) {
            Ok(key) if valid => Ok(key.to_owned()),
            _ => Err(ApiError::invalid(
                "Idempotency-Key",
                "must be 1–200 visible ASCII characters",
            )),
        }
    }

    /// `POST /v1/referrals/{id}/guidance id=0190…`: from the routing table,
    /// so no handler spells its own route.
    fn scope_of(req: &HttpRequest) -> String {
        let pattern = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
        let mut scope = format!("{} {pattern}", req.method());
        for (name, value) in req.match_info().iter() {
            scope.push_str(&format!(" {name}={value}"));
        }
        scope
    }
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = req
            .headers()
            .get("Idempotency-Key")
            .map(|v| Self::parse(v.as_bytes()))
            .transpose();
        std::future::ready(key.map(|key| Self {
            key,
            scope: Self::scope_of(req),
        }))
    }
}
