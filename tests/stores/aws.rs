//! AWS Secrets Manager (on moto_server): conformance, a full rotation, a
//! stuck pending version, throttling, missing credentials, foreign answers.

use crate::common::{initial, rotate_three_times};
use crate::support::moto::Moto;
use crate::support::seesaw::Target;
use crate::support::{self, conformance};
use seesaw::store::{AwsStore, SecretStore};
use serde_json::json;

#[tokio::test]
async fn aws_store_conformance() {
    let Some(moto) = Moto::start() else { return };
    moto.create("conformance/app", &conformance::adopted())
        .await;
    let store = moto.store("conformance/app").await;
    conformance::run(&store).await;
    conformance::not_found(&moto.store("no/such/secret").await).await;
    moto.create("conformance/pending", &conformance::adopted())
        .await;
    conformance::pending(
        &moto.store("conformance/pending").await,
        &moto.store("conformance/pending").await,
    )
    .await;
}

#[tokio::test]
async fn aws_reports_a_stuck_pending_version() {
    let Some(moto) = Moto::start() else { return };
    moto.create("stuck/app", &conformance::adopted()).await;
    // An earlier rotation (a Lambda's createSecret) left a pending version.
    moto.client()
        .await
        .put_secret_value()
        .secret_id("stuck/app")
        .client_request_token("11111111111111111111111111111111")
        .secret_string(json!({"username": "app_b", "password": "pending-Secret-9"}).to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let store = moto.store("stuck/app").await;
    let state = store.read().await.unwrap();
    let next = seesaw::secret::SecretDocument::from_value(
        json!({"username": "app_b", "password": "x-Secret-1"}),
    )
    .unwrap();
    let err = store
        .publish(seesaw::store::PublishRequest {
            document: &next,
            replaces: &state.current.version,
            token: "22222222222222222222222222222222",
        })
        .await
        .expect_err("a stuck AWSPENDING must not be overwritten");
    assert!(err.to_string().contains("staged AWSPENDING"), "{err}");
    assert!(
        err.to_string().contains("11111111111111111111111111111111"),
        "{err}"
    );
    assert!(!err.to_string().contains("pending-Secret-9"));
}

#[tokio::test]
async fn a_full_rotation_with_aws_secrets_manager_as_the_store() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    moto.create("prod/app/db", &initial()).await;
    let store = moto.store("prod/app/db").await;
    let yaml = format!(
        "aws: {{ secret_id: prod/app/db, region: us-east-1, endpoint_url: \"{}\" }}",
        moto.url
    );
    rotate_three_times(&t, &yaml, &support::moto::env(), &store).await;
}

#[tokio::test]
async fn aws_throttling_is_retried_then_classified_and_denied_names_the_permission() {
    let Some(moto) = Moto::start() else { return };
    moto.create("throttled/app", &conformance::adopted()).await;
    let via = |url: &str| seesaw::config::AwsStoreConfig {
        secret_id: "throttled/app".into(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(url.into()),
        timeout: seesaw::config::default_store_timeout(),
    };
    // Two throttled answers: the SDK's own retry absorbs them.
    let proxy = support::moto::ErrorProxy::start(&moto.url, "ThrottlingException", 400, 2).await;
    let state = AwsStore::connect(&via(&proxy.url), &support::moto::environment())
        .await
        .read()
        .await
        .expect("retried and then succeeded");
    assert_eq!(state.current.document.username().unwrap(), "app_a");
    assert_eq!(
        proxy.answered.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "both throttles were hit"
    );

    // Throttled throughout: a transient error, for the caller's backoff.
    let proxy = support::moto::ErrorProxy::start(&moto.url, "ThrottlingException", 400, 1000).await;
    let err = AwsStore::connect(&via(&proxy.url), &support::moto::environment())
        .await
        .read()
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("aws secret throttled/app"),
        "{err}"
    );

    // Denied: names the action and the policy file.
    let proxy =
        support::moto::ErrorProxy::start(&moto.url, "AccessDeniedException", 400, 1000).await;
    let err = AwsStore::connect(&via(&proxy.url), &support::moto::environment())
        .await
        .read()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "denied", "{err}");
    assert!(
        err.to_string().contains("secretsmanager:GetSecretValue"),
        "{err}"
    );
    assert!(err.to_string().contains("policies/aws/README.md"), "{err}");
}

/// No AWS credentials anywhere is a configuration problem, said once with
/// the fix, not a transient failure retried forever.
#[tokio::test]
async fn aws_without_credentials_says_so_and_is_not_retried() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    moto.create("nocreds/app", &initial()).await;
    t.use_store(
        &format!(
            "aws: {{ secret_id: nocreds/app, region: us-east-1, endpoint_url: \"{}\" }}",
            moto.url
        ),
        &[],
    );
    let none = std::ffi::OsStr::new("/nonexistent");
    let started = std::time::Instant::now();
    let run = t
        .seesaw_with(
            &["rotate", "demo", "--output", "json"],
            &[
                ("AWS_ACCESS_KEY_ID", None),
                ("AWS_SECRET_ACCESS_KEY", None),
                ("AWS_SESSION_TOKEN", None),
                ("AWS_PROFILE", None),
                ("AWS_ROLE_ARN", None),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", None),
                ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", None),
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", None),
                ("AWS_CONFIG_FILE", Some(none)),
                ("AWS_SHARED_CREDENTIALS_FILE", Some(none)),
                ("AWS_EC2_METADATA_DISABLED", Some("true".as_ref())),
            ],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "store_denied", "{}", run.stdout);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("none were found"), "{message}");
    assert!(message.contains("AWS_PROFILE"), "{message}");
}

/// An endpoint that answers something other than Secrets Manager (a
/// proxy's HTML page) is described, never an empty message.
#[tokio::test]
async fn aws_an_answer_that_is_not_secrets_manager_is_described() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            let body = "<html><body>Access denied by proxy</body></html>";
            let reply = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    let store = AwsStore::connect(
        &seesaw::config::AwsStoreConfig {
            secret_id: "proxied/app".into(),
            region: Some("us-east-1".into()),
            endpoint_url: Some(url),
            timeout: seesaw::config::default_store_timeout(),
        },
        &support::moto::environment(),
    )
    .await;
    let err = store.read().await.unwrap_err();
    server.abort();
    let text = err.to_string();
    assert!(
        text.contains("GetSecretValue: unexpected answer HTTP 403"),
        "{text}"
    );
    assert!(text.contains("endpoint_url"), "{text}");
}
