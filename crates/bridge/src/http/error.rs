//! The read API's one error type: every failure a handler can meet, each with a stable code,
//! an HTTP status and a message for a human. Internal details (SQL, stack of causes) are logged,
//! never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter, path segment or body field is wrong; names it.
    #[error("{name}: {message}")]
    BadParameter { name: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("this API needs the bridge's token: send `Authorization: Bearer <BRIDGE_API_TOKEN>`")]
    Unauthorized,
    #[error(
        "this bridge does not answer to the name {0}: open it by its address or localhost, or \
         add the name to BRIDGE_ALLOWED_HOSTS"
    )]
    HostNotAllowed(String),
    #[error(
        "refused: this request to change something came from another site ({0}); the bridge \
         takes changes only from its own pages and from clients that send no Origin"
    )]
    CrossSite(String),
    #[error(
        "PostgreSQL is unavailable or did not answer in time; the bridge keeps trying. Try \
         again shortly"
    )]
    DatabaseUnavailable,
    #[error("internal error; the bridge's log has the details")]
    Internal(String),
}

impl ApiError {
    pub fn bad(name: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter {
            name: name.to_owned(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::HostNotAllowed(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::CrossSite(_) => StatusCode::FORBIDDEN,
            ApiError::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadParameter { .. } => "bad_parameter",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unauthorized => "unauthorized",
            ApiError::HostNotAllowed(_) => "host_not_allowed",
            ApiError::CrossSite(_) => "cross_site_request",
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                ApiError::DatabaseUnavailable
            }
            // query_canceled: the read pool's statement_timeout (a lock, a stuck server).
            sqlx::Error::Database(e) if e.code().as_deref() == Some("57014") => {
                ApiError::DatabaseUnavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            error!("read API: {detail}");
        }
        let mut body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let ApiError::BadParameter { name, .. } = &self {
            body["error"]["parameter"] = json!(name);
        }
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
