//! The fields of the TWS text protocol: every value ASCII text ended by a NUL, numbers printed
//! so that IB's clients parse them (Java's, Python's `int`/`float`/`Decimal`).
//!
//! Knows fields, not messages. Reading is lenient as TWS's own decoders are: an empty number is
//! zero; running out of fields or a number that is not one is an error naming the field.

use std::fmt::Display;
use std::io::Write;

use bytes::BytesMut;

/// What IB's clients read as "no value" in a double field (Java's `Double.MAX_VALUE`).
pub const UNSET_DOUBLE: f64 = f64::MAX;

/// Appends fields to a frame being written.
pub struct Fields<'a>(pub &'a mut BytesMut);

impl Fields<'_> {
    fn raw(&mut self, text: impl Display) -> &mut Self {
        let mut w = BytesMutWriter(self.0);
        // Writing into memory cannot fail.
        let _ = write!(w, "{text}");
        self.0.extend_from_slice(b"\0");
        self
    }

    pub fn int(&mut self, v: impl Into<i64>) -> &mut Self {
        self.raw(v.into())
    }

    /// Text; a NUL inside would end the field early, so it is dropped.
    pub fn text(&mut self, s: &str) -> &mut Self {
        if s.contains('\0') {
            self.raw(s.replace('\0', ""))
        } else {
            self.raw(s)
        }
    }

    /// A double as Java prints it where it matters to a parser: `5.0`, `0.1`, `1e300`.
    pub fn float(&mut self, x: f64) -> &mut Self {
        if x.is_finite() {
            self.raw(format_args!("{x:?}"))
        } else {
            self.raw(if x.is_nan() { "NaN" } else { "Infinity" })
        }
    }

    /// A double that may be unset: IB's clients read [`UNSET_DOUBLE`] as "no value".
    pub fn opt_float(&mut self, x: Option<f64>) -> &mut Self {
        self.float(x.unwrap_or(UNSET_DOUBLE))
    }

    pub fn boolean(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "1" } else { "0" })
    }
}

struct BytesMutWriter<'a>(&'a mut BytesMut);

impl Write for BytesMutWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a text request could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("field {index} is missing")]
    Missing { index: usize },
    #[error("field {index} is {text:?}, not a number")]
    NotANumber { index: usize, text: String },
}

/// Reads the fields of one text frame in order.
pub struct Reader<'a> {
    rest: &'a [u8],
    index: usize,
}

impl<'a> Reader<'a> {
    pub fn new(payload: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: payload,
            index: 0,
        }
    }

    fn next(&mut self) -> Result<&'a str, FieldError> {
        let Some(end) = self.rest.iter().position(|b| *b == 0) else {
            return Err(FieldError::Missing { index: self.index });
        };
        let (field, rest) = self.rest.split_at(end);
        self.rest = &rest[1..];
        self.index += 1;
        // Clients send ASCII; anything else is kept as well as it decodes.
        Ok(std::str::from_utf8(field).unwrap_or_default())
    }

    fn number<T: std::str::FromStr + Default>(&mut self) -> Result<T, FieldError> {
        let text = self.next()?.trim();
        if text.is_empty() {
            return Ok(T::default());
        }
        text.parse().map_err(|_| FieldError::NotANumber {
            index: self.index - 1,
            text: text.to_owned(),
        })
    }

    pub fn int(&mut self) -> Result<i32, FieldError> {
        self.number()
    }

    pub fn float(&mut self) -> Result<f64, FieldError> {
        self.number()
    }

    /// A double that may be left empty (unset).
    pub fn opt_float(&mut self) -> Result<Option<f64>, FieldError> {
        let text = self.next()?.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| FieldError::NotANumber {
            index: self.index - 1,
            text: text.to_owned(),
        })
    }

    pub fn text(&mut self) -> Result<String, FieldError> {
        self.next().map(str::to_owned)
    }

    /// `1`/`0`, as clients send booleans; `true`/`false` are accepted too.
    pub fn boolean(&mut self) -> Result<bool, FieldError> {
        let text = self.next()?.trim();
        Ok(matches!(text, "1" | "true" | "True"))
    }

    pub fn skip(&mut self, n: usize) -> Result<(), FieldError> {
        for _ in 0..n {
            self.next()?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
