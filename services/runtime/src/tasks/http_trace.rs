//! TestState's view of an HTTP Task call (`inspectionLevel` TRACE): the request as sent and
//! the response as received, recorded for the caller that asks (`capture`). What a
//! connection adds (its headers, query parameters, authentication) is a secret: it is left
//! out unless the caller asks for it (`revealSecrets`); a secret value is never shown.

use serde_json::{json, Value};
use std::future::Future;
use std::sync::Mutex;

/// The HTTP exchange of one call, as TestState's `inspectionData.request` and `.response`
/// name it (every field text, as the API has it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpExchange {
    /// `{protocol, method, url, headers, body}`.
    pub request: Option<Value>,
    /// `{protocol, statusCode, statusMessage, headers, body}`.
    pub response: Option<Value>,
}

struct Capture {
    reveal_secrets: bool,
    exchange: Mutex<HttpExchange>,
}

tokio::task_local! {
    static CAPTURE: Capture;
}

/// Runs `future`, recording the HTTP Task calls it makes (the last one wins: TestState runs
/// one state once); `reveal_secrets` keeps what connections add.
pub async fn capture<F: Future>(reveal_secrets: bool, future: F) -> (F::Output, HttpExchange) {
    let capture = Capture {
        reveal_secrets,
        exchange: Mutex::new(HttpExchange::default()),
    };
    CAPTURE
        .scope(capture, async {
            let output = future.await;
            let exchange = CAPTURE.with(|c| c.exchange.lock().expect("never poisoned").clone());
            (output, exchange)
        })
        .await
}

/// Whether a capture is running, and whether it reveals secrets.
pub(crate) fn capturing() -> Option<bool> {
    CAPTURE.try_with(|c| c.reveal_secrets).ok()
}

/// Headers as AWS renders them in inspection data: `[Name: value, Name: value]`.
pub(crate) fn render_headers<'h>(headers: impl Iterator<Item = (&'h str, String)>) -> String {
    let pairs: Vec<String> = headers.map(|(n, v)| format!("{n}: {v}")).collect();
    format!("[{}]", pairs.join(", "))
}

pub(crate) fn record_request(protocol: &str, method: &str, url: &str, headers: String, body: &str) {
    let _ = CAPTURE.try_with(|c| {
        c.exchange.lock().expect("never poisoned").request = Some(json!({
            "protocol": protocol,
            "method": method,
            "url": url,
            "headers": headers,
            "body": body,
        }));
    });
}

pub(crate) fn record_response(
    protocol: &str,
    status: u16,
    message: &str,
    headers: String,
    body: &str,
) {
    let _ = CAPTURE.try_with(|c| {
        c.exchange.lock().expect("never poisoned").response = Some(json!({
            "protocol": protocol,
            "statusCode": status.to_string(),
            "statusMessage": message,
            "headers": headers,
            "body": body,
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_capturing_future_records() {
        record_request("https", "GET", "u", String::new(), "");
        assert_eq!(capturing(), None);
        let (reveal, exchange) = capture(true, async {
            record_request(
                "https",
                "GET",
                "https://x/",
                render_headers([("a", "1".to_owned())].into_iter()),
                "",
            );
            record_response("https", 200, "OK", "[]".into(), "{}");
            capturing()
        })
        .await;
        assert_eq!(reveal, Some(true));
        let request = exchange.request.expect("recorded");
        assert_eq!(request["headers"], "[a: 1]");
        assert_eq!(exchange.response.expect("recorded")["statusCode"], "200");
    }
}
