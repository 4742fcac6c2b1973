//! WATCH of one object (`?watch=true&fieldSelector=metadata.name=NAME`),
//! as the real API server streams it: one JSON event per line, each change
//! after the `resourceVersion` asked for (MODIFIED), DELETED when the
//! object goes, and the end of the stream after `timeoutSeconds`. The fake
//! keeps only each object's latest state, so changes that land between two
//! looks arrive as one event, which a real server may also do (a watcher
//! must judge the latest state, never count events).

use super::objects::in_group;
use super::{Inner, Key};
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LOOK: Duration = Duration::from_millis(5);

fn version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

struct Watch {
    state: Arc<Mutex<Inner>>,
    key: Key,
    group: String,
    seen: u64,
    last: Option<Value>,
    until: Instant,
}

/// The stream for a watch of `key` from `from` (empty: from now).
pub(super) fn stream(
    state: Arc<Mutex<Inner>>,
    key: Key,
    group: String,
    from: &str,
    timeout: Duration,
) -> Response {
    let current = state.lock().unwrap().objects.get(&key).cloned();
    let seen = from
        .parse()
        .unwrap_or_else(|_| current.as_ref().map(version).unwrap_or(0));
    let watch = Watch {
        state,
        key,
        group,
        seen,
        last: current,
        until: Instant::now() + timeout,
    };
    let events = futures::stream::unfold(watch, |mut w| async move {
        loop {
            if Instant::now() >= w.until {
                return None;
            }
            let now = w.state.lock().unwrap().objects.get(&w.key).cloned();
            match now {
                Some(object) if version(&object) > w.seen => {
                    w.seen = version(&object);
                    w.last = Some(object.clone());
                    let event = line("MODIFIED", in_group(&w.group, &w.key.0, object));
                    return Some((Ok::<_, std::convert::Infallible>(event), w));
                }
                None => {
                    let gone = w.last.take()?;
                    w.until = Instant::now();
                    return Some((Ok(line("DELETED", in_group(&w.group, &w.key.0, gone))), w));
                }
                Some(_) => tokio::time::sleep(LOOK).await,
            }
        }
    });
    (
        [("content-type", "application/json")],
        Body::from_stream(events),
    )
        .into_response()
}
