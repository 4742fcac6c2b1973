//! A store that answers with garbage holding a password never gets that
//! password into any output: for each store (AWS, GCP, Azure, the file),
//! answers cut off in the middle of the secret, with a field of the wrong
//! type next to it, or an HTML page that echoes it; every command and
//! output mode (text, JSON, YAML, -v, -vv, JSON logs) and the daemon's log
//! are searched for the password (and, for GCP, its base64 form). Each run
//! must also have reached the store and failed saying why, so the search
//! cannot pass by not looking.

mod support;

use base64::Engine as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use support::seesaw::Target;

const CANARY: &str = "Canary-Pw-Zq7x41Lm0";

/// The commands and output modes a person or a script would run.
const MODES: [&[&str]; 16] = [
    &["rotate", "demo"],
    &["-v", "rotate", "demo"],
    &["-vv", "rotate", "demo"],
    &["--log-format", "json", "-vv", "rotate", "demo"],
    &["--output", "json", "rotate", "demo"],
    &["--output", "yaml", "rotate", "demo"],
    &["rotate", "demo", "--dry-run"],
    &["plan", "demo"],
    &["--output", "json", "plan", "demo"],
    &["-vv", "plan", "demo", "--rollback"],
    &["status"],
    &["--output", "json", "status"],
    &["check"],
    &["--output", "json", "check"],
    &["rollback", "demo"],
    &["-vv", "--output", "json", "rollback", "demo"],
];

/// What seesaw says of an answer it could not use: one of these must be
/// in the output of a command that reached the store.
const SAYS: [&str; 6] = [
    "unexpected answer",
    "is not a JSON secret document",
    "is not valid JSON",
    "ends early",
    "does not have the expected fields",
    "must be",
];

/// An HTTP server that answers every request with the same response.
struct Garbage {
    url: String,
    requests: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Garbage {
    async fn start(status: u16, content_type: &str, body: String) -> Garbage {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let reply = format!(
            "HTTP/1.1 {status} Whatever\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let requests = Arc::new(AtomicU32::new(0));
        let count = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (reply, count) = (reply.clone(), count.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let _ = client.read(&mut buf).await;
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = client.write_all(reply.as_bytes()).await;
                    let _ = client.shutdown().await;
                });
            }
        });
        Garbage {
            url,
            requests,
            task,
        }
    }
}

/// The secret document each garbage answer carries.
fn document() -> String {
    serde_json::json!({"username": "app_a", "password": CANARY}).to_string()
}

fn html(what: &str) -> String {
    format!("<html><head><title>Bad gateway</title></head><body><h1>Upstream said</h1><pre>{what}</pre></body></html>")
}

/// Runs every mode (and the daemon) and checks that none shows a
/// forbidden string. `reached` says whether the store was asked since it
/// was last called.
async fn no_output_shows(t: &Target, case: &str, forbidden: &[String], reached: &dyn Fn() -> bool) {
    for mode in MODES {
        let run = t.seesaw(mode).await;
        let all = run.all();
        for secret in forbidden {
            assert!(
                !all.contains(secret.as_str()),
                "{case}: `seesaw {}` shows the password:\n{all}",
                mode.join(" ")
            );
        }
        assert!(!all.contains("panicked"), "{case}: {all}");
        assert!(
            reached(),
            "{case}: `seesaw {}` never asked the store",
            mode.join(" ")
        );
        if mode.contains(&"status") || mode.contains(&"check") || mode.contains(&"plan") {
            // These report a problem in their output and may exit 0 or 1.
            assert!(run.code == 0 || run.code == 1, "{case}: {all}");
        } else {
            assert_ne!(
                run.code,
                0,
                "{case}: `seesaw {}` succeeded:\n{all}",
                mode.join(" ")
            );
        }
        assert!(
            SAYS.iter().any(|s| all.contains(s)),
            "{case}: `seesaw {}` does not say what was wrong with the answer:\n{all}",
            mode.join(" ")
        );
    }
    let log = daemon_log(t).await;
    for secret in forbidden {
        assert!(
            !log.contains(secret.as_str()),
            "{case}: the daemon's log shows the password:\n{log}"
        );
    }
    assert!(
        SAYS.iter().any(|s| log.contains(s)),
        "{case}: the daemon's log does not say what was wrong:\n{log}"
    );
}

/// The daemon rotating the target at start, with -vv, until it has logged
/// the failure (at most 30 s), then stopped.
async fn daemon_log(t: &Target) -> String {
    use tokio::io::AsyncReadExt;
    // A schedule, so that --rotate-now applies (the slot is far away).
    let config = std::fs::read_to_string(&t.config).unwrap();
    let daemon_config = t.config.with_extension("daemon.yaml");
    std::fs::write(
        &daemon_config,
        config.replace("    store:\n", "    schedule: \"0 3 1 1 *\"\n    store:\n"),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"));
    cmd.arg("--config")
        .arg(&daemon_config)
        .args([
            "-vv",
            "run",
            "--http-addr",
            "127.0.0.1:0",
            "--rotate-now",
            "demo",
        ])
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in t.store_env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut log = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&log);
        if text.contains("retrying in") || text.contains("trying again at the next slot") {
            break;
        }
        match tokio::time::timeout_at(deadline, stderr.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => log.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let _ = child.kill().await;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out).await;
    }
    format!("{out}{}", String::from_utf8_lossy(&log))
}

fn counted(server: &Garbage) -> impl Fn() -> bool + '_ {
    let seen = AtomicU32::new(server.requests.load(Ordering::SeqCst));
    move || {
        let now = server.requests.load(Ordering::SeqCst);
        now > seen.swap(now, Ordering::SeqCst)
    }
}

#[tokio::test]
async fn garbage_from_secrets_manager_never_shows_the_password() {
    let t = Target::new(["app_a", "app_b"]).await;
    let secret_string = serde_json::to_string(&document()).unwrap();
    let answer = |created: &str| {
        format!(
            "{{\"ARN\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:demo-AbCdEf\",\"Name\":\"demo\",\"VersionId\":\"11111111-1111-4111-8111-111111111111\",\"SecretString\":{secret_string},\"VersionStages\":[\"AWSCURRENT\"],\"CreatedDate\":{created}}}"
        )
    };
    let whole = answer("\"not-a-number\"");
    let cut = whole[..whole.find(CANARY).unwrap() + CANARY.len()].to_owned();
    let cases = [
        (
            "a date that is not a number",
            200,
            "application/x-amz-json-1.1",
            whole,
        ),
        (
            "a body cut in the secret",
            200,
            "application/x-amz-json-1.1",
            cut,
        ),
        (
            "an HTML page echoing it",
            200,
            "text/html",
            html(&answer("1700000000")),
        ),
        (
            "a 400 HTML page echoing it",
            400,
            "text/html",
            html(&answer("1700000000")),
        ),
    ];
    for (case, status, content_type, body) in cases {
        let server = Garbage::start(status, content_type, body).await;
        t.write_config();
        t.use_store(
            &format!(
                "aws: {{ secret_id: demo, region: us-east-1, endpoint_url: \"{}\", timeout: 5s }}",
                server.url
            ),
            &support::moto::env(),
        );
        no_output_shows(&t, case, &[CANARY.into()], &counted(&server)).await;
    }
}

#[tokio::test]
async fn garbage_from_secret_manager_never_shows_the_password() {
    let t = Target::new(["app_a", "app_b"]).await;
    let data = base64::engine::general_purpose::STANDARD.encode(document());
    let version = "projects/p/secrets/demo/versions/1";
    let answer = |crc: &str| {
        format!(
            "{{\"versions\":[{{\"name\":\"{version}\",\"state\":\"ENABLED\",\"createTime\":\"2026-01-01T00:00:00Z\"}}],\"name\":\"{version}\",\"payload\":{{\"data\":\"{data}\",\"dataCrc32c\":{crc}}},\"note\":\"{CANARY}\"}}"
        )
    };
    let whole = answer(&format!("\"{CANARY}\""));
    let cut = whole[..whole.find(&data).unwrap() + data.len() / 2].to_owned();
    let cases = [
        (
            "a checksum of the wrong type",
            200,
            "application/json",
            whole,
        ),
        ("a body cut in the secret", 200, "application/json", cut),
        (
            "an HTML page echoing it",
            200,
            "text/html",
            html(&answer("1")),
        ),
        (
            "a 400 HTML page echoing it",
            400,
            "text/html",
            html(&answer("1")),
        ),
    ];
    for (case, status, content_type, body) in cases {
        let server = Garbage::start(status, content_type, body).await;
        t.write_config();
        t.use_store(
            &format!(
                "gcp: {{ project: p, secret: demo, endpoint: \"{}\", timeout: 5s }}",
                server.url
            ),
            &[],
        );
        let forbidden = [CANARY.to_owned(), data[..24].to_owned()];
        no_output_shows(&t, case, &forbidden, &counted(&server)).await;
    }
}

#[tokio::test]
async fn garbage_from_key_vault_never_shows_the_password() {
    use support::keyvault::{Mode, Vault};
    let t = Target::new(["app_a", "app_b"]).await;
    let vault = Vault::start();
    vault.set(
        "app-db",
        &serde_json::json!({"username": "app_a", "password": "x"}),
    );
    let value = serde_json::to_string(&document()).unwrap();
    let answer = |id: &str| {
        format!("{{\"value\":{value},\"id\":{id},\"attributes\":{{\"enabled\":true,\"created\":1700000000}}}}")
    };
    let whole = answer(&format!("[\"{CANARY}\"]"));
    let cut = whole[..whole.find(CANARY).unwrap() + CANARY.len()].to_owned();
    let cases = [
        ("an id of the wrong type", 200, "application/json", whole),
        ("a body cut in the secret", 200, "application/json", cut),
        (
            "an HTML page echoing it",
            200,
            "text/html",
            html(&answer("\"x\"")),
        ),
        (
            "a 400 HTML page echoing it",
            400,
            "text/html",
            html(&answer("\"x\"")),
        ),
    ];
    for (case, status, content_type, body) in cases {
        vault.set_mode(Mode::Garbage(status, content_type, body));
        t.write_config();
        t.use_store(
            &format!(
                "azure: {{ vault_url: \"{}\", secret: app-db, ca_file: \"{}\", timeout: 5s }}",
                vault.url,
                vault.ca_file.display()
            ),
            &vault.env,
        );
        // The fake counts nothing per request; the answers themselves
        // prove it was asked (SAYS).
        no_output_shows(&t, case, &[CANARY.into()], &|| true).await;
    }
}

#[tokio::test]
async fn a_garbled_store_file_never_shows_the_password() {
    let t = Target::new(["app_a", "app_b"]).await;
    let whole = format!("{{\"current\": {{\"username\": \"app_a\", \"password\": \"{CANARY}\"}}}}");
    let cut = whole[..whole.find(CANARY).unwrap() + CANARY.len()].to_owned();
    let cases = [
        ("cut in the password", cut.into_bytes()),
        (
            "a username of the wrong type",
            format!(
                "{{\"current\": {{\"username\": [\"{CANARY}\"], \"password\": \"{CANARY}\"}}}}"
            )
            .into_bytes(),
        ),
        (
            "a byte that is not UTF-8",
            [whole.as_bytes(), b"\xff\xfe"].concat(),
        ),
    ];
    for (case, bytes) in cases {
        std::fs::write(&t.store, &bytes).unwrap();
        let store = t.store.clone();
        let before = std::fs::read(&store).unwrap();
        no_output_shows(&t, case, &[CANARY.into()], &|| true).await;
        assert_eq!(
            std::fs::read(&store).unwrap(),
            before,
            "{case}: the file changed"
        );
    }
}
