//! W3C trace context for outgoing calls. The executor may run an execution inside
//! `with_traceparent` (e.g. with the start record's `traceparent` header); every outgoing
//! HTTP call then carries the same trace id with a fresh span id. Without one, each call
//! starts a trace of its own.

use rand::RngCore;

tokio::task_local! {
    static TRACEPARENT: Option<String>;
}

/// Runs `future` with `traceparent` as the parent of the calls it makes.
pub async fn with_traceparent<F: std::future::Future>(
    traceparent: Option<String>,
    future: F,
) -> F::Output {
    TRACEPARENT.scope(traceparent, future).await
}

/// The `traceparent` for one outgoing call: the current trace (when there is a valid one)
/// with a new span id, else a new trace; sampled flag kept or set.
pub fn outgoing() -> String {
    let mut rng = rand::rng();
    let span = format!("{:016x}", rng.next_u64().max(1));
    let parent = TRACEPARENT.try_with(|p| p.clone()).ok().flatten();
    if let Some((trace_id, flags)) = parent.as_deref().and_then(parse) {
        return format!("00-{trace_id}-{span}-{flags}");
    }
    let trace_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64().max(1));
    format!("00-{trace_id}-{span}-01")
}

/// `(trace id, flags)` of a valid version-00 `traceparent`.
fn parse(header: &str) -> Option<(&str, &str)> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let valid = version == "00"
        && parts.next().is_none()
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && hex(flags, 2);
    valid.then_some((trace_id, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_trace_and_makes_a_new_span() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned();
        let header = with_traceparent(Some(parent), async { outgoing() }).await;
        assert!(
            header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{header}"
        );
        assert!(header.ends_with("-01"));
        assert!(!header.contains("00f067aa0ba902b7"));
    }

    #[test]
    fn makes_a_trace_without_one() {
        let header = outgoing();
        assert!(parse(&header).is_some(), "{header}");
        assert!(parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    }
}
