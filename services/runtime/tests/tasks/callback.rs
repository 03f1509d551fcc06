//! `.waitForTaskToken` callbacks: success, failure, heartbeats and ended tokens.

use super::common::{run, task};
use asl::validate::MachineType;
use runtime::task_token::{TaskTokenKeys, TokenError};
use runtime::tasks::callback::{
    CallbackError, CallbackMessage, CallbackRegistry, CallbackRouter, Routed,
};
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
fn callback_definition(heartbeat: Option<u64>) -> Value {
    let mut state = json!({"Resource": "arn:aws:states:::quickstep:callback.waitForTaskToken",
        "Parameters": {"token.$": "$$.Task.Token"}, "TimeoutSeconds": 10});
    if let Some(seconds) = heartbeat {
        state["HeartbeatSeconds"] = json!(seconds);
    }
    task(state)
}

pub(crate) async fn token_of(registry: &CallbackRegistry) -> String {
    for _ in 0..200 {
        if let Some(token) = registry.waiting_tokens().pop() {
            return token;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no task waited");
}

// On tokio's paused clock: heartbeats every 400 ms against HeartbeatSeconds 1, in virtual
// time, so a busy machine cannot make a heartbeat late.
#[tokio::test(start_paused = true)]
async fn callbacks_success_failure_heartbeats_and_ended_tokens() {
    let registry = CallbackRegistry::new(
        Arc::new(super::common::TokioClock::new()),
        super::common::keys(),
    );
    let tasks = Integrations::new(&TasksConfig::default(), None, registry.clone()).unwrap();
    let router = CallbackRouter {
        registry: Some(registry.clone()),
        producer: None,
        topic: "quickstep.callbacks".into(),
    };
    // Success, through the router (the gateway's path).
    let definition = callback_definition(None);
    let (outcome, token) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            let routed = router
                .send(&CallbackMessage::SendTaskSuccess {
                    task_token: token.clone(),
                    output: r#"{"approved": true}"#.into(),
                })
                .await;
            assert_eq!(routed, Ok(Routed::Local));
            token
        }
    );
    assert_eq!(outcome.output, Some(json!({"approved": true})));
    // The task is over: a second answer is too late; a token never seen does not exist.
    let again = CallbackMessage::SendTaskSuccess {
        task_token: token,
        output: "{}".into(),
    };
    assert_eq!(registry.deliver(&again), Err(CallbackError::TaskTimedOut));
    let unknown = CallbackMessage::SendTaskHeartbeat {
        task_token: super::common::keys().mint("arn:aws:states:local:0:express:test:other"),
    };
    assert_eq!(
        registry.deliver(&unknown),
        Err(CallbackError::TaskDoesNotExist)
    );
    for (token, reason) in [
        (String::new(), TokenError::Malformed),
        ("f".repeat(64), TokenError::Malformed),
        (
            TaskTokenKeys::ephemeral()
                .unwrap()
                .mint(&super::common::info().execution_arn),
            TokenError::Forged,
        ),
    ] {
        let invalid = CallbackMessage::SendTaskHeartbeat { task_token: token };
        assert_eq!(
            registry.deliver(&invalid),
            Err(CallbackError::InvalidToken(reason))
        );
    }
    // Failure.
    let (outcome, _) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            let bad = CallbackMessage::SendTaskSuccess {
                task_token: token.clone(),
                output: "not json".into(),
            };
            assert!(matches!(
                registry.deliver(&bad),
                Err(CallbackError::InvalidOutput(_))
            ));
            // The live token with one character changed: refused, and the task waits on.
            let mut altered = token.clone().into_bytes();
            altered[40] = if altered[40] == b'A' { b'B' } else { b'A' };
            let altered = CallbackMessage::SendTaskFailure {
                task_token: String::from_utf8(altered).unwrap(),
                error: Some("Forged".into()),
                cause: None,
            };
            assert_eq!(
                registry.deliver(&altered),
                Err(CallbackError::InvalidToken(TokenError::Forged))
            );
            assert_eq!(registry.waiting(), 1);
            registry
                .deliver(&CallbackMessage::SendTaskFailure {
                    task_token: token,
                    error: Some("Rejected".into()),
                    cause: Some("no budget".into()),
                })
                .unwrap();
        }
    );
    assert_eq!(outcome.error.as_deref(), Some("Rejected"));
    assert_eq!(outcome.cause.as_deref(), Some("no budget"));
    // Heartbeats keep a task alive past HeartbeatSeconds…
    let definition = callback_definition(Some(1));
    let started = tokio::time::Instant::now();
    let (outcome, _) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                registry
                    .deliver(&CallbackMessage::SendTaskHeartbeat {
                        task_token: token.clone(),
                    })
                    .unwrap();
            }
            registry
                .deliver(&CallbackMessage::SendTaskSuccess {
                    task_token: token,
                    output: "1".into(),
                })
                .unwrap();
        }
    );
    assert_eq!(outcome.output, Some(json!(1)));
    assert!(
        started.elapsed() >= Duration::from_millis(2000),
        "five heartbeats 400 ms apart kept it alive past HeartbeatSeconds"
    );
    // …and without them the engine times the task out; its token has ended.
    let (outcome, token) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        token_of(&registry)
    );
    assert_eq!(outcome.error.as_deref(), Some("States.HeartbeatTimeout"));
    assert_eq!(
        registry.deliver(&CallbackMessage::SendTaskSuccess {
            task_token: token,
            output: "{}".into()
        }),
        Err(CallbackError::TaskTimedOut)
    );
    assert_eq!(registry.waiting(), 0);
}
