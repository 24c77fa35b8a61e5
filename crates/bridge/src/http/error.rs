//! The read API's one error type: every failure a handler (or the edge, the token check, the
//! deadline) can meet, each with a stable code, an HTTP status and a message for a human.
//! Answered as [`ErrorBody`], which the OpenAPI document describes from the same types.
//! Internal details (SQL, stack of causes) are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::error;
use utoipa::ToSchema;

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

/// The stable codes clients can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadParameter,
    NotFound,
    Unauthorized,
    HostNotAllowed,
    CrossSiteRequest,
    DatabaseUnavailable,
    Internal,
}

/// Every error answer: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong and what to do, for a human.
    pub message: String,
    /// The parameter at fault (`bad_parameter` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
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

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadParameter { .. } => ErrorCode::BadParameter,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::HostNotAllowed(_) => ErrorCode::HostNotAllowed,
            ApiError::CrossSite(_) => ErrorCode::CrossSiteRequest,
            ApiError::DatabaseUnavailable => ErrorCode::DatabaseUnavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                parameter: match self {
                    ApiError::BadParameter { name, .. } => Some(name.clone()),
                    _ => None,
                },
            },
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
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
