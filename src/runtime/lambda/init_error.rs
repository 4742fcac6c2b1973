//! Reporting a failure before the first event to the runtime API's
//! `/runtime/init/error`, as Lambda expects: the function's error then shows
//! as `Fatal.settings` with its message in the console and in what
//! Secrets Manager logs, instead of an anonymous `Runtime.ExitError`.
//! lambda_runtime reports init errors only for its own SnapStart hooks, so
//! this is one plain HTTP/1.1 request on the loopback runtime API.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Posts `{"errorType", "errorMessage"}` to `http://<api>/2018-06-01/runtime/init/error`.
/// Best effort within 2 s: the process exits with the error either way.
pub async fn report(api: &str, error_type: &str, message: &str) -> Result<(), String> {
    let body = serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: \
            {api}\r\nLambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Type: \
                application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(api)
            .await
            .map_err(|e| format!("cannot reach the runtime API at {api}: {e}"))?;
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let status = String::from_utf8_lossy(&answer)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if status.starts_with('2') {
            Ok(())
        } else {
            Err(format!(
                "the runtime API answered {status:?} to /init/error"
            ))
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err("the runtime API did not answer /init/error".into()))
}
