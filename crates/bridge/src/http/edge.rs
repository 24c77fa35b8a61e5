//! The edge: what every request must pass before the token check or any handler sees it.
//!
//! - **Host.** A bridge answers only to the names it is reached by: its own address, loopback
//!   addresses, `localhost` and `BRIDGE_ALLOWED_HOSTS` (any IP address when it listens on all
//!   of them). A web page that rebinds its own name to 127.0.0.1 (DNS rebinding) sends its own
//!   name as `Host`, and is refused here, so it can never read the portfolio.
//! - **Origin.** A request that changes something (anything but GET, HEAD, OPTIONS) whose
//!   `Origin` — or, without one, `Referer` — is another site is refused, so a form on another
//!   site cannot enqueue a job or sign someone in. Requests without either (curl, scripts) pass:
//!   browsers always send one of them with a cross-site form.
//!
//! The checks are pure functions of the request's head; [`guard`] applies them. Nothing here
//! looks at the token or the session: a refused request is refused for everyone.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

use super::AppState;
use super::error::ApiError;
use crate::config::HostName;

/// The names a bridge answers to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    bind: IpAddr,
    names: Vec<HostName>,
}

impl AllowedHosts {
    /// A bridge listening on `bind` that also answers to `names` (`BRIDGE_ALLOWED_HOSTS`).
    pub fn new(bind: IpAddr, names: Vec<HostName>) -> AllowedHosts {
        AllowedHosts { bind, names }
    }

    /// Whether `host` — the host part of a `Host` header, an IPv6 address in brackets — is one
    /// this bridge answers to.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        let listed = self.names.iter().any(|n| n.as_str() == bare);
        match bare.parse::<IpAddr>() {
            // Rebinding needs a name: an address in `Host` is one the browser was given by the
            // user, so any address of this machine is fine.
            Ok(ip) => listed || ip.is_loopback() || ip == self.bind || self.bind.is_unspecified(),
            Err(_) => listed || host == "localhost",
        }
    }
}

/// The authority the request was sent to: its `Host` header, or the request line's.
fn authority(uri: &Uri, headers: &HeaderMap) -> Option<Authority> {
    match headers.get(header::HOST) {
        Some(value) => value.to_str().ok()?.parse().ok(),
        None => uri.authority().cloned(),
    }
}

/// Whether `source` (an `Origin` or `Referer` value) is the site `host` names: the same host
/// and port. A `Host` without a port matches a source on its scheme's default port.
pub fn same_origin(source: &str, host: &Authority) -> bool {
    let Ok(url) = Url::parse(source) else {
        return false;
    };
    let same_host = url
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(host.host()));
    let same_port = match host.port_u16() {
        Some(port) => url.port_or_known_default() == Some(port),
        None => url.port().is_none(),
    };
    matches!(url.scheme(), "http" | "https") && same_host && same_port
}

/// Whether `method` may change something.
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a request with this head may reach the handlers.
pub fn check(
    allowed: &AllowedHosts,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(host) = authority(uri, headers) else {
        return Err(ApiError::HostNotAllowed(
            "(no valid Host header)".to_owned(),
        ));
    };
    if !allowed.allows(host.host()) {
        return Err(ApiError::HostNotAllowed(host.host().to_owned()));
    }
    if !changes_state(method) {
        return Ok(());
    }
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER));
    match source {
        None => Ok(()),
        Some(value) => {
            let text = value.to_str().unwrap_or("(not text)");
            if same_origin(text, &host) {
                Ok(())
            } else {
                Err(ApiError::CrossSite(text.chars().take(200).collect()))
            }
        }
    }
}

/// The middleware: refuses what [`check`] refuses, before anything else runs.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(
        &state.settings.hosts,
        req.method(),
        req.uri(),
        req.headers(),
    ) {
        Ok(()) => next.run(req).await,
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
#[path = "edge_tests.rs"]
mod tests;
