//! `portfolio-bridge status`: asks a running bridge for `GET /api/v1/status` and prints it for
//! people (or as JSON), exiting non-zero when something needs a human — for cron, systemd
//! timers and monitoring. It reads the running bridge's answer and never the database or the
//! gateway itself, so it shows exactly what the API and the page show.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::HttpConfig;
use crate::http::status::StatusView;

/// How long the bridge may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "cannot reach the bridge at {url}: {detail}. Is `portfolio-bridge run` running, and is \
         BRIDGE_HTTP_ADDR the address it serves?"
    )]
    Unreachable { url: String, detail: String },
    #[error(
        "the bridge at {url} refused the token: set BRIDGE_API_TOKEN to the running bridge's token"
    )]
    Unauthorized { url: String },
    #[error("the bridge at {url} answered {status}: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
}

/// Where a bridge listening on `addr` answers: an unspecified address (`0.0.0.0`) is reached
/// on loopback.
pub fn status_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/api/v1/status", SocketAddr::new(ip, addr.port()))
}

/// The running bridge's status: parsed, and as the JSON it sent.
pub async fn fetch(http: &HttpConfig) -> Result<(StatusView, String), CheckError> {
    let url = status_url(http.addr);
    let unreachable = |e: reqwest::Error| CheckError::Unreachable {
        url: url.clone(),
        detail: e.without_url().to_string(),
    };
    // reqwest is built without a default crypto provider (see ibkr::portal::client).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let mut request = client.get(&url);
    if let Some(token) = &http.api_token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(CheckError::Unauthorized { url });
    }
    if !status.is_success() {
        return Err(CheckError::Unexpected {
            url,
            status: status.as_u16(),
            body: body.chars().take(500).collect(),
        });
    }
    match serde_json::from_str(&body) {
        Ok(view) => Ok((view, body)),
        Err(e) => Err(CheckError::Unexpected {
            url,
            status: status.as_u16(),
            body: format!("not the status this version knows ({e}); is it another program?"),
        }),
    }
}

/// The status for people: what needs attention first, each with what to do, then the facts.
pub fn report(view: &StatusView) -> String {
    let mut out = String::new();
    match view.attention.len() {
        0 => out.push_str("portfolio-bridge: OK\n"),
        n => {
            out.push_str(&format!("portfolio-bridge: NEEDS ATTENTION ({n})\n"));
            for a in &view.attention {
                out.push_str(&format!("  ! [{}] {}\n", a.kind, a.message));
            }
        }
    }
    for fact in view.facts() {
        out.push_str(&format!("{:<20} {}\n", fact.label, fact.value));
    }
    let alerts = view.alert_lines();
    if !alerts.is_empty() {
        out.push_str("Active alerts:\n");
        for line in alerts {
            out.push_str(&format!("  {line}\n"));
        }
    }
    let left_out = view.left_out_lines();
    if !left_out.is_empty() {
        out.push_str("Left out of the greeks:\n");
        for line in left_out {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

#[cfg(test)]
#[path = "status_check_tests.rs"]
mod tests;
