//! The web console at `/console/`: static assets compiled into the binary (no Node to build
//! or run), and two read endpoints over the execution store that the AWS API has no shape
//! for (filters by time, name and idempotency key; an execution with its whole history and
//! start record). Served only by gateways without authentication (`quickstep dev`, or a
//! loopback gateway): the console sends unsigned requests.

use crate::read::{describe_json, history_event, list_item};
use crate::Gateway;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use store::{Cursor, Filter, Status};

const INDEX: &str = include_str!("../console/index.html");
const APP: &str = include_str!("../console/app.js");
const STYLE: &str = include_str!("../console/style.css");
/// dagre, vendored by `console/vendor.sh` from npm.
const DAGRE: &str = include_str!("../console/vendor/dagre.min.js");

/// The most events the execution page loads.
const MAX_EVENTS: usize = 10_000;

/// The console's routes.
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|s| asset(s, INDEX, "text/html; charset=utf-8")),
        )
        .route(
            "/console/app.js",
            get(|s| asset(s, APP, "text/javascript; charset=utf-8")),
        )
        .route(
            "/console/style.css",
            get(|s| asset(s, STYLE, "text/css; charset=utf-8")),
        )
        .route(
            "/console/dagre.min.js",
            get(|s| asset(s, DAGRE, "text/javascript; charset=utf-8")),
        )
        .route("/console/api/executions", get(executions))
        .route("/console/api/execution", get(execution))
}

/// A console request that failed: its status and a message for the page.
struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"message": self.1}))).into_response()
    }
}

fn problem(status: StatusCode, message: &str) -> Problem {
    Problem(status, message.to_owned())
}

fn refusal(gateway: &Gateway) -> Result<(), Problem> {
    if gateway.config().authenticates() {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "The console is served only by gateways without authentication (quickstep dev, or a loopback gateway)",
        ));
    }
    Ok(())
}

async fn asset(
    State(gateway): State<Arc<Gateway>>,
    body: &'static str,
    content_type: &'static str,
) -> Response {
    match refusal(&gateway) {
        Ok(()) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(refused) => refused.into_response(),
    }
}

fn store_of(gateway: &Gateway) -> Result<Arc<store::Store>, Problem> {
    refusal(gateway)?;
    gateway.store().cloned().ok_or_else(|| {
        problem(StatusCode::NOT_FOUND, "This gateway keeps no execution store: start it with store = \"memory\" or \"file:PATH\"")
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    state_machine_arn: Option<String>,
    status: Option<String>,
    /// Epoch ms.
    from: Option<i64>,
    /// Epoch ms.
    to: Option<i64>,
    name: Option<String>,
    idempotency_key: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

async fn executions(
    State(gateway): State<Arc<Gateway>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let store = store_of(&gateway)?;
    let Ok(Query(query)) = query else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "from and to are epoch milliseconds; limit is a count",
        ));
    };
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match Status::parse(text) {
            Some(status) => Some(status),
            None => {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    &format!("Unknown status '{text}'"),
                ))
            }
        },
    };
    let after = match query.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => match Cursor::from_token(token) {
            Some(cursor) => Some(cursor),
            None => {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid token '{token}'"),
                ))
            }
        },
    };
    let nonempty = |text: Option<String>| text.filter(|t| !t.is_empty());
    let filter = Filter {
        state_machine_arn: nonempty(query.state_machine_arn),
        status,
        started_after_ms: query.from,
        started_before_ms: query.to,
        name: nonempty(query.name),
        idempotency_key: nonempty(query.idempotency_key),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let page = tokio::task::spawn_blocking(move || store.list(&filter, limit, after)).await;
    match page {
        Ok(Ok(page)) => {
            let executions: Vec<Value> = page
                .executions
                .iter()
                .map(|e| {
                    let mut item = list_item(e);
                    if let Some(key) = &e.idempotency_key {
                        item["idempotencyKey"] = key.clone().into();
                    }
                    item
                })
                .collect();
            let mut answer = json!({"executions": executions});
            if let Some(next) = page.next {
                answer["nextToken"] = next.to_token().into();
            }
            Ok(axum::Json(answer).into_response())
        }
        Ok(Err(error)) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error.to_string(),
        )),
        Err(error) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error.to_string(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionQuery {
    execution_arn: String,
}

async fn execution(
    State(gateway): State<Arc<Gateway>>,
    query: Result<Query<ExecutionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let store = store_of(&gateway)?;
    let Ok(Query(query)) = query else {
        return Err(problem(StatusCode::BAD_REQUEST, "executionArn is required"));
    };
    let arn = query.execution_arn;
    let key = arn.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let execution = store.execution(&key)?;
        let events = store.history(&key, None, MAX_EVENTS, false)?;
        Ok::<_, store::StoreError>((execution, events))
    })
    .await;
    let (execution, events) = match loaded {
        Ok(Ok((Some(execution), events))) => (execution, events.unwrap_or_default()),
        Ok(Ok((None, _))) => {
            return Err(problem(
                StatusCode::NOT_FOUND,
                &format!("Execution Does Not Exist: '{arn}'"),
            ))
        }
        Ok(Err(error)) => {
            return Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                &error.to_string(),
            ))
        }
        Err(error) => {
            return Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                &error.to_string(),
            ))
        }
    };
    let input = events
        .iter()
        .find(|e| e.event_type == "ExecutionStarted")
        .and_then(crate::read::started_input);
    let mut described = describe_json(&execution, input);
    if let Some(key) = &execution.idempotency_key {
        described["idempotencyKey"] = key.clone().into();
    }
    let source = execution
        .source
        .as_ref()
        .map(|s| json!({"topic": s.topic, "partition": s.partition, "offset": s.offset}));
    Ok(axum::Json(json!({
        "execution": described,
        "events": events.iter().map(|e| history_event(e, true)).collect::<Vec<_>>(),
        "source": source,
        "brokers": gateway.config().brokers,
    }))
    .into_response())
}
