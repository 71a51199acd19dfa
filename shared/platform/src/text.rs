//! [`Text`]: what a person typed, checked by its type.
//!
//! The limit is part of the type (`Text<500>`), so the same declaration
//! enforces it when a request is read and publishes it in the OpenAPI schema
//! (`minLength`, `maxLength`, `pattern`): the mobile app's generated client
//! and the server cannot disagree.

use serde::{Deserialize, Deserializer, Serialize, de};
use std::borrow::Cow;
use std::fmt;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// Text of at most `MAX` characters, without control characters other than
/// tab and newline (PostgreSQL text cannot hold NUL, and no person types the
/// others). Surrounding whitespace is trimmed away. `MIN` is 1 (the default:
/// must not be blank) or 0 (may be left empty, e.g. optional notes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Text<const MAX: usize, const MIN: usize = 1>(String);

/// Allowed: any character but controls (C0, DEL and C1, as Rust's
/// `char::is_control`), tab and newline excepted. (ECMA-262 syntax, as
/// OpenAPI asks.)
const ANY_TEXT: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";
/// The same, with at least one character that is not whitespace.
const NOT_BLANK: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";

/// Why a piece of text was refused; the message the caller reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    Blank,
    TooLong(usize),
    ControlCharacter,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blank => f.write_str("must not be blank"),
            Self::TooLong(max) => write!(f, "must be at most {max} characters"),
            Self::ControlCharacter => {
                f.write_str("must not contain control characters (tab and newline are allowed)")
            }
        }
    }
}

impl<const MAX: usize, const MIN: usize> Text<MAX, MIN> {
    /// The limit counts the characters as sent, before trimming, so that a
    /// value the schema calls too long is refused however it is padded.
    pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
        let value = value.into();
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(TextError::ControlCharacter);
        }
        if value.chars().count() > MAX {
            return Err(TextError::TooLong(MAX));
        }
        let trimmed = value.trim();
        if trimmed.is_empty() && MIN > 0 {
            return Err(TextError::Blank);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Empty text, for optional fields (`Text<N, 0>`) left out.
impl<const MAX: usize> Default for Text<MAX, 0> {
    fn default() -> Self {
        Self(String::new())
    }
}

impl<const MAX: usize, const MIN: usize> AsRef<str> for Text<MAX, MIN> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize, const MIN: usize> fmt::Display for Text<MAX, MIN> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de, const MAX: usize, const MIN: usize> Deserialize<'de> for Text<MAX, MIN> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::new(value).map_err(de::Error::custom)
    }
}

impl<const MAX: usize, const MIN: usize> utoipa::PartialSchema for Text<MAX, MIN> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(MIN.min(1)))
            .max_length(Some(MAX))
            .pattern(Some(if MIN > 0 { NOT_BLANK } else { ANY_TEXT }))
            .into()
    }
}

impl<const MAX: usize, const MIN: usize> utoipa::ToSchema for Text<MAX, MIN> {
    /// One component per limit (`Text500`, `OptionalText2000`), so
    /// `Text<100>` and `Text<500>` never share a name.
    fn name() -> Cow<'static, str> {
        let optional = if MIN > 0 { "" } else { "Optional" };
        Cow::Owned(format!("{optional}Text{MAX}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;
    use crate::problem::ApiError;

    #[test]
    fn trims_and_keeps_newlines() {
        let text = Text::<20>::new("  two\nlines\t ").unwrap();
        assert_eq!(text.as_str(), "two\nlines");
    }

    #[test]
    fn refuses_blank_long_and_control_characters() {
        assert_eq!(Text::<5>::new(" \n "), Err(TextError::Blank));
        assert_eq!(Text::<5>::new("abcdef"), Err(TextError::TooLong(5)));
        // Padding does not sneak past the limit the schema publishes.
        assert_eq!(Text::<5>::new("abcd  "), Err(TextError::TooLong(5)));
        assert_eq!(Text::<5>::new("a\u{0}b"), Err(TextError::ControlCharacter));
        assert_eq!(Text::<5>::new("a\u{1e}"), Err(TextError::ControlCharacter));
        assert_eq!(Text::<5>::new("héllo").unwrap().as_str(), "héllo");
        assert_eq!(Text::<5, 0>::new("  ").unwrap().as_str(), "");
    }

    #[derive(Debug, Deserialize)]
    struct Note {
        #[allow(dead_code)] // read by the derive; the test asserts the error
        body: Text<10>,
    }

    #[test]
    fn a_refusal_is_a_422_naming_the_field() {
        let Err(ApiError::Validation(errors)) =
            parse_json::<Note>("{\"body\": \"\\u0000\"}".as_bytes())
        else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "body");
        assert!(errors[0].message.contains("control characters"));
    }

    #[test]
    fn the_schema_publishes_the_limits() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Text::<500>::schema()).unwrap();
        assert_eq!(schema["minLength"], 1);
        assert_eq!(schema["maxLength"], 500);
        assert_eq!(schema["pattern"], NOT_BLANK);
        assert_eq!(<Text<500> as utoipa::ToSchema>::name(), "Text500");
        let optional = serde_json::to_value(Text::<500, 0>::schema()).unwrap();
        assert_eq!(
            (&optional["minLength"], &optional["pattern"]),
            (&0.into(), &ANY_TEXT.into())
        );
        assert_eq!(
            <Text<500, 0> as utoipa::ToSchema>::name(),
            "OptionalText500"
        );
    }
}
