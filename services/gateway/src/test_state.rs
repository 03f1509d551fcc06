//! TestState: one state with its input.

use crate::protocol::ApiError;
use crate::Gateway;
use axum::response::Response;

/// TestState.
pub async fn test_state(_gateway: &Gateway, _body: &[u8]) -> Result<Response, ApiError> {
    Err(ApiError::Validation(
        "TestState is not available yet".into(),
    ))
}
