//! Identifiers that can only hold valid values: IBKR contract ids and account codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An IBKR contract id: a positive integer that fits IBKR's 32-bit fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct ConId(i32);

impl ConId {
    /// `None` unless `id` is a positive 32-bit integer.
    pub fn new(id: i64) -> Option<ConId> {
        i32::try_from(id).ok().filter(|id| *id > 0).map(ConId)
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i64> for ConId {
    type Error = String;

    fn try_from(id: i64) -> Result<ConId, String> {
        ConId::new(id).ok_or_else(|| format!("{id} is not a contract id"))
    }
}

impl From<ConId> for i64 {
    fn from(id: ConId) -> i64 {
        i64::from(id.0)
    }
}

impl fmt::Display for ConId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An IBKR account code (`U1234567`, `DU123456`, `F…`, `I…`): 2 to 16 ASCII letters and
/// digits, stored upper-case. Sensitive: the read API shows aliases, never these.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountCode(String);

impl AccountCode {
    pub fn parse(code: &str) -> Option<AccountCode> {
        let code = code.trim();
        let valid =
            (2..=16).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| AccountCode(code.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code with its middle hidden (`DU…567`), for messages that may reach the read API
    /// or a shared screen: the owner recognises it, a viewer cannot use it.
    pub fn masked(&self) -> String {
        // Short codes show only their end, so that something is always hidden.
        let keep = if self.0.len() >= 7 { 2 } else { 0 };
        format!(
            "{}…{}",
            &self.0[..keep],
            &self.0[self.0.len().saturating_sub(3)..]
        )
    }
}

impl TryFrom<String> for AccountCode {
    type Error = String;

    fn try_from(code: String) -> Result<AccountCode, String> {
        AccountCode::parse(&code).ok_or_else(|| format!("{code:?} is not an account code"))
    }
}

impl From<AccountCode> for String {
    fn from(code: AccountCode) -> String {
        code.0
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bridge's name (`BRIDGE_NAME`): which bridge — which gateway login — a row, an account or
/// a session status comes from when several bridges share one database. 1 to 63 ASCII
/// letters, digits, `.`, `-` and `_`, starting with a letter or digit: it joins record keys
/// with `:`, so it never holds one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BridgeName(String);

impl BridgeName {
    pub const MAX_LEN: usize = 63;

    pub fn parse(name: &str) -> Option<BridgeName> {
        let name = name.trim();
        let valid = (1..=Self::MAX_LEN).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        valid.then(|| BridgeName(name.to_owned()))
    }

    /// The default name from a host name, which may hold anything: other characters become
    /// `-`, and a name with nothing usable left is `bridge`.
    pub fn from_host(host: &str) -> BridgeName {
        let cleaned: String = host
            .trim()
            .chars()
            .map(|c| match c {
                c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => c,
                _ => '-',
            })
            .skip_while(|c| !c.is_ascii_alphanumeric())
            .take(Self::MAX_LEN)
            .collect();
        BridgeName::parse(&cleaned).unwrap_or_else(|| BridgeName("bridge".to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BridgeName {
    type Error = String;

    fn try_from(name: String) -> Result<BridgeName, String> {
        BridgeName::parse(&name).ok_or_else(|| format!("{name:?} is not a bridge name"))
    }
}

impl From<BridgeName> for String {
    fn from(name: BridgeName) -> String {
        name.0
    }
}

impl fmt::Display for BridgeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[path = "ids_tests.rs"]
mod tests;
