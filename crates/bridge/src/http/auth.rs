//! `BRIDGE_API_TOKEN`: with it set, every API call and page needs it — the API as a bearer
//! header (`Authorization: Bearer <token>`), the pages through a sign-in form that sets a
//! session cookie (HttpOnly, SameSite=Strict). `/healthz` and the sign-in page stay open.
//! Without a token (a loopback-only bridge, which the configuration insists on) everything
//! is open.
//!
//! Sessions live in memory: a restart signs everyone out. The token is compared in constant
//! time and never logged.

use std::collections::HashSet;
use std::io::Read;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::error::ApiError;
use crate::config::Secret;

/// The session cookie's name.
pub const COOKIE: &str = "pb_session";

pub struct Auth {
    token: Option<Secret>,
    sessions: Mutex<HashSet<String>>,
}

/// `a == b` in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Auth {
    pub fn new(token: Option<Secret>) -> Auth {
        Auth {
            token,
            sessions: Mutex::new(HashSet::new()),
        }
    }

    /// Whether a token is needed at all.
    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the token.
    pub fn token_matches(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| same(t.expose().as_bytes(), given.as_bytes()))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the request carries the token or a live session.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.required() {
            return true;
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.token_matches(t.trim()));
        bearer || cookie(headers, COOKIE).is_some_and(|id| self.sessions().contains(id))
    }

    /// A new session, after the sign-in form got the token: its cookie value.
    pub fn open_session(&self) -> std::io::Result<String> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.sessions().insert(id.clone());
        Ok(id)
    }

    pub fn close_session(&self, id: &str) {
        self.sessions().remove(id);
    }
}

/// Where a signed-in user goes back to: a path on this site only.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Lets a request through if it may pass; otherwise a 401 (API, metrics) or the sign-in page.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/login") || state.auth.allows(req.headers()) {
        return next.run(req).await;
    }
    if path.starts_with("/api/") || path == "/metrics" {
        return ApiError::Unauthorized.into_response();
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &target)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
