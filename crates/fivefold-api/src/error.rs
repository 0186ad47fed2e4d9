//! API errors as JSON `{"error": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad parameter or a refused query: shown as it is.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing at that key.
    #[error("{0}")]
    NotFound(String),
    /// The request body is over the limit.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Missing or wrong bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// A query ran past its time limit.
    #[error("the query ran longer than {0} s and was cancelled")]
    Timeout(u64),
    /// The lake could not be read.
    #[error("the lake cannot be read: {0}")]
    Lake(#[from] fivefold_lake::Error),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] fivefold_query::Error),
    /// Anything else (logged; the client sees a generic message).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<fivefold_report::Error> for ApiError {
    fn from(e: fivefold_report::Error) -> Self {
        match e {
            fivefold_report::Error::Query(q) => ApiError::Query(q),
            e @ (fivefold_report::Error::Period { .. } | fivefold_report::Error::Region { .. }) => {
                ApiError::BadRequest(e.to_string())
            }
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, self.to_string()),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, self.to_string()),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, self.to_string()),
            ApiError::Query(
                fivefold_query::Error::ReadOnly { .. } | fivefold_query::Error::Sql { .. },
            ) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::Lake(_) | ApiError::Query(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "Request failed.");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".to_owned())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
