//! Task integrations: what a Task state's `Resource` calls. Until an integration is
//! configured for a resource, the task fails with a clear error instead of hanging.

use asl::{ErrorName, StatesError, TaskHandler, TaskRequest};
use futures::future::BoxFuture;
use serde_json::Value;

/// The integrations a worker offers.
#[derive(Debug, Default)]
pub struct Integrations;

impl TaskHandler for Integrations {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        let error = StatesError::new(
            ErrorName::TaskFailed,
            format!(
                "No integration is configured for the resource '{}'",
                request.resource
            ),
        );
        Box::pin(async move { Err(error) })
    }
}
