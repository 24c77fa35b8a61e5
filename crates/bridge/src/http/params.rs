//! Query parameters read strictly: each handler names the parameters it knows, and a value
//! that does not parse — or a parameter it does not know, or a value with a control character
//! — is a 400 that names it.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::error::ApiError;

/// A request's query parameters, checked against the names a handler accepts.
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Refuses any parameter not in `known`.
    pub fn new(raw: BTreeMap<String, String>, known: &[&str]) -> Result<Params, ApiError> {
        if let Some(unknown) = raw.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::bad(
                unknown,
                format!(
                    "unknown parameter; this endpoint takes {}",
                    known.join(", ")
                ),
            ));
        }
        // PostgreSQL refuses NUL in text, and no symbol or type holds a control character.
        if let Some((name, _)) = raw.iter().find(|(_, v)| v.chars().any(char::is_control)) {
            return Err(ApiError::bad(
                name,
                "contains a control character (such as NUL); send printable text",
            ));
        }
        Ok(Params(raw))
    }

    /// The value as given, if not empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn int(&self, name: &str) -> Result<Option<i32>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse::<i32>()
                    .map_err(|_| ApiError::bad(name, format!("{v:?} is not a whole number")))
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.text(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ApiError::bad(name, format!("{v:?} is not true or false"))),
            })
            .transpose()
    }

    /// A count from 1 to `max`, `default` when absent.
    pub fn limit(&self, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad(
                    name,
                    format!("{v:?} is not a number from 1 to {max}"),
                )),
            },
        }
    }

    /// An RFC 3339 instant (`2026-11-21T14:00:00Z`).
    pub fn instant(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse::<Timestamp>().map_err(|_| {
                    ApiError::bad(
                        name,
                        format!("{v:?} is not an RFC 3339 time such as 2026-11-21T14:00:00Z"),
                    )
                })
            })
            .transpose()
    }

    /// One of `allowed`.
    pub fn choice(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        self.text(name)
            .map(|v| match allowed.contains(&v) {
                true => Ok(v.to_owned()),
                false => Err(ApiError::bad(
                    name,
                    format!("{v:?} is not one of {}", allowed.join(", ")),
                )),
            })
            .transpose()
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
