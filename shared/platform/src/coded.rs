//! Coded values: the closed vocabularies a rule depends on (statuses,
//! priorities, body regions, reasons …), declared once with [`coded!`]
//! (docs/architecture.md, "HTTP conventions").
//!
//! One declaration gives the Rust enum, its wire name (serde, so an unknown
//! value is a 422 naming the field), its OpenAPI `enum`, and `as_str` /
//! `FromStr` for the database, whose text column carries a CHECK with the
//! same names (a test per service compares the two).

/// A code read from storage or a message that is not in the vocabulary:
/// the data is corrupt or from a newer version, never the caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} {value:?}")]
pub struct UnknownCode {
    pub vocabulary: &'static str,
    pub value: String,
}

/// Declares a coded value:
///
/// ```
/// spotter_platform::coded! {
///     /// Which side of the body.
///     pub enum Side {
///         Left = "left",
///         Right = "right",
///     }
/// }
/// assert_eq!(Side::Left.as_str(), "left");
/// assert_eq!("right".parse::<Side>(), Ok(Side::Right));
/// assert_eq!(Side::ALL.len(), 2);
/// ```
///
/// The calling crate needs `serde` and `utoipa` (every service has both):
/// their derives name those crates directly.
#[macro_export]
macro_rules! coded {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:tt ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        $vis enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire and database name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// For diesel's `#[diesel(serialize_as = String)]` on a model field.
        impl ::std::convert::From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        /// For diesel's `#[diesel(deserialize_as = String)]` on a model field.
        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::coded::UnknownCode;
            fn try_from(value: String) -> ::std::result::Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::coded::UnknownCode;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                match value {
                    $($code => Ok(Self::$variant),)+
                    _ => Err($crate::coded::UnknownCode {
                        vocabulary: stringify!($name),
                        value: value.to_owned(),
                    }),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::extract::parse_json;
    use crate::problem::ApiError;

    crate::coded! {
        /// Test vocabulary.
        pub enum Colour {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[derive(Debug, serde::Deserialize)]
    struct Paint {
        #[allow(dead_code)] // read by the derive; the test asserts the error
        colour: Colour,
    }

    #[test]
    fn names_round_trip() {
        for colour in Colour::ALL {
            assert_eq!(colour.as_str().parse::<Colour>(), Ok(*colour));
            assert_eq!(
                serde_json::to_value(colour).unwrap(),
                serde_json::json!(colour.as_str())
            );
        }
        let unknown = "green".parse::<Colour>().unwrap_err();
        assert_eq!(unknown.to_string(), r#"unknown Colour "green""#);
    }

    #[test]
    fn an_unknown_value_is_a_422_naming_the_field_and_the_choices() {
        let Err(ApiError::Validation(errors)) = parse_json::<Paint>(br#"{"colour": "green"}"#)
        else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "colour");
        assert!(errors[0].message.contains("`dark_blue`"), "{errors:?}");
    }

    #[test]
    fn the_schema_is_a_string_enum() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Colour::schema()).unwrap();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["enum"], serde_json::json!(["red", "dark_blue"]));
    }
}
