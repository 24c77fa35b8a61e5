//! Query and path parameters, read strictly. A handler takes its parameters as one struct that
//! both documents them (utoipa's `IntoParams`: names, types, bounds, defaults) and parses them
//! (serde), so the OpenAPI document and the server cannot disagree about them. A parameter the
//! struct does not name, a repeated one, one holding a control character (PostgreSQL refuses
//! NUL) or a value that does not parse is a 400 that names it.
//!
//! The value types carry their rule and their schema together: [`Id`], [`Limit`], [`Text`],
//! [`Instant`]. The API takes an empty value as a value (and refuses it where the type does);
//! pages read their GET forms through [`FormQuery`], where an empty field means "not set".

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema, SchemaFormat};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::error::ApiError;
use crate::domain::ids::BridgeName;

/// No control characters (`char::is_control`): what [`Text`] and aliases may hold.
pub const PRINTABLE: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Checks `pairs` against the names `T` documents, then parses them into `T`.
fn decode<T: DeserializeOwned + IntoParams>(pairs: Vec<(String, String)>) -> Result<T, ApiError> {
    let known: Vec<String> = T::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if !known.contains(name) {
            let message = match known.is_empty() {
                true => "unknown parameter; this endpoint takes none".to_owned(),
                false => format!(
                    "unknown parameter; this endpoint takes {}",
                    known.join(", ")
                ),
            };
            return Err(ApiError::bad(name, message));
        }
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(ApiError::bad(name, "given more than once"));
        }
        if value.chars().any(char::is_control) {
            return Err(ApiError::bad(
                name,
                "contains a control character (such as NUL); send printable text",
            ));
        }
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let parsed = url::form_urlencoded::parse(encoded.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(parsed)).map_err(|e| {
        let name = match e.path().to_string() {
            path if path == "." => "query".to_owned(),
            path => path,
        };
        ApiError::bad(&name, e.into_inner().to_string())
    })
}

fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// An API endpoint's query parameters, `T`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        decode(query_pairs(parts)).map(Query)
    }
}

/// A page's query parameters, `T`, from a GET form: an empty field means "not set".
pub struct FormQuery<T>(pub T);

impl<T: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for FormQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut pairs = query_pairs(parts);
        pairs.retain(|(_, value)| !value.is_empty());
        decode(pairs).map(FormQuery)
    }
}

/// An endpoint's path parameters, `T`.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad("path", e.body_text()))?;
        let pairs = raw
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        decode(pairs).map(PathParams)
    }
}

/// A JSON request body, `T`; a field that does not parse is a 400 naming it.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !json {
            return Err(ApiError::bad(
                "body",
                "send a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad("body", e.body_text()))?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let name = match e.path().to_string() {
                path if path == "." => "body".to_owned(),
                path => path,
            };
            ApiError::bad(&name, e.into_inner().to_string())
        })?;
        de.end().map_err(|e| ApiError::bad("body", e.to_string()))?;
        Ok(JsonBody(value))
    }
}

fn integer(format: KnownFormat, minimum: i64, maximum: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(format)))
        .minimum(Some(minimum))
        .maximum(Some(maximum))
}

/// A row's id: a whole number from 1 to 2147483647 (a PostgreSQL `integer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Id(i32);

impl Id {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<String> for Id {
    type Error = String;

    fn try_from(s: String) -> Result<Id, String> {
        match s.parse::<i32>() {
            Ok(id) if id > 0 => Ok(Id(id)),
            _ => Err(format!(
                "{s:?} is not an id (a whole number from 1 to {})",
                i32::MAX
            )),
        }
    }
}

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        integer(KnownFormat::Int32, 1, i64::from(i32::MAX)).into()
    }
}

impl ToSchema for Id {}

/// How many rows at most: from 1 to `MAX`, `DEFAULT` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Limit<const DEFAULT: i64, const MAX: i64>(i64);

impl<const DEFAULT: i64, const MAX: i64> Limit<DEFAULT, MAX> {
    /// The limit given, or the default.
    pub fn or_default(limit: Option<Self>) -> i64 {
        limit.map_or(DEFAULT, |l| l.0)
    }
}

impl<const DEFAULT: i64, const MAX: i64> TryFrom<String> for Limit<DEFAULT, MAX> {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.parse::<i64>() {
            Ok(n) if (1..=MAX).contains(&n) => Ok(Limit(n)),
            _ => Err(format!("{s:?} is not a number from 1 to {MAX}")),
        }
    }
}

impl<const DEFAULT: i64, const MAX: i64> PartialSchema for Limit<DEFAULT, MAX> {
    fn schema() -> RefOr<Schema> {
        integer(KnownFormat::Int64, 1, MAX)
            .default(Some(DEFAULT.into()))
            .into()
    }
}

impl<const DEFAULT: i64, const MAX: i64> ToSchema for Limit<DEFAULT, MAX> {}

/// A symbol, contract or type: 1 to [`Text::MAX_CHARS`] characters, none of them a control
/// character.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = String;

    fn try_from(s: String) -> Result<Text, String> {
        let chars = s.chars().count();
        if chars == 0 {
            return Err("is empty; leave the parameter out instead".to_owned());
        }
        if chars > Text::MAX_CHARS || s.chars().any(char::is_control) {
            return Err(format!("at most {} printable characters", Text::MAX_CHARS));
        }
        Ok(Text(s))
    }
}

impl PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(Text::MAX_CHARS))
            .pattern(Some(PRINTABLE))
            .into()
    }
}

impl ToSchema for Text {}

impl PartialSchema for BridgeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(BridgeName::MAX_LEN))
            .pattern(Some("^[A-Za-z0-9][A-Za-z0-9._-]*$"))
            .into()
    }
}

impl ToSchema for BridgeName {}

/// An RFC 3339 time such as `2026-11-21T14:00:00Z` or `2026-11-21T09:00:00.5-05:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Instant(Timestamp);

impl Instant {
    pub fn get(self) -> Timestamp {
        self.0
    }
}

impl TryFrom<String> for Instant {
    type Error = String;

    fn try_from(s: String) -> Result<Instant, String> {
        rfc3339(&s)
            .map(Instant)
            .ok_or_else(|| format!("{s:?} is not an RFC 3339 time such as 2026-11-21T14:00:00Z"))
    }
}

impl PartialSchema for Instant {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
}

impl ToSchema for Instant {}

/// RFC 3339's `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. Times beyond the
/// range the bridge can represent (years 9999 and -9999, offsets applied) are clamped to it.
pub fn rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.len() == range.len() && d.iter().all(u8::is_ascii_digit))
    };
    let shape = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(b.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return None;
    }
    let rest = &s[19..];
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            // Nanoseconds are the finest a timestamp holds.
            (&r[..n.min(9)], &r[n..])
        }
        None => ("", rest),
    };
    let offset_seconds = match zone.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) =>
        {
            let hours = i32::from((h1 - b'0') * 10 + (h2 - b'0'));
            let minutes = i32::from((m1 - b'0') * 10 + (m2 - b'0'));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let civil = match fraction {
        "" => format!("{}T{}", &s[..10], &s[11..19]),
        f => format!("{}T{}.{f}", &s[..10], &s[11..19]),
    };
    let civil: jiff::civil::DateTime = civil.parse().ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    Some(offset.to_timestamp(civil).unwrap_or(if civil.year() > 0 {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    }))
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
