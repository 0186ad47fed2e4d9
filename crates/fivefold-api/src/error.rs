//! API errors as JSON `{"error": "..."}`.
//!
//! A query that goes over a limit (time, memory) is answered with 422: the
//! request is well-formed but too expensive to serve as written. Not 408,
//! which tells a browser that the connection idled out and makes it resend
//! the request, nor 5xx, which reports a server fault.

use std::time::Duration;

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
    /// The route exists, but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request body is over the limit.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Missing or wrong bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The request body did not arrive in time.
    #[error("the request body did not arrive within {0:?} (serve.body_timeout)")]
    BodyTimeout(Duration),
    /// A query ran past its time limit.
    #[error(
        "the query ran longer than {0:?} (serve.sql_timeout) and was cancelled; \
         filter or aggregate earlier, or add a LIMIT"
    )]
    Timeout(Duration),
    /// A query (or its result) needed more memory than it may use.
    #[error(
        "the query needs more memory than serve.sql_memory_bytes allows ({limit} bytes) and was \
         cancelled; filter or aggregate earlier, or add a LIMIT ({detail})"
    )]
    MemoryLimit {
        /// `serve.sql_memory_bytes`.
        limit: usize,
        /// DataFusion's account of the allocation that failed.
        detail: String,
    },
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

impl ApiError {
    /// A query error that DataFusion raised because its memory pool ran out
    /// becomes [`ApiError::MemoryLimit`] with the pool's size `limit`.
    pub(crate) fn with_memory_limit(self, limit: usize) -> ApiError {
        if let ApiError::Query(fivefold_query::Error::DataFusion(e)) = &self
            && let datafusion::error::DataFusionError::ResourcesExhausted(detail) = e.find_root()
        {
            let detail = detail.split(datafusion::error::DataFusionError::BACK_TRACE_SEP).next();
            return ApiError::MemoryLimit {
                limit,
                detail: detail.unwrap_or_default().trim().to_owned(),
            };
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, self.to_string()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, self.to_string()),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, self.to_string()),
            ApiError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, self.to_string()),
            ApiError::Timeout(_) | ApiError::MemoryLimit { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, self.to_string())
            }
            ApiError::Query(
                fivefold_query::Error::ReadOnly { .. }
                | fivefold_query::Error::Sql { .. }
                | fivefold_query::Error::TooComplex { .. },
            ) => (StatusCode::BAD_REQUEST, self.to_string()),
            ApiError::Lake(_) | ApiError::Query(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "Request failed.");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".to_owned())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
