//! Every store passes the conformance suite; a full rotation runs against
//! each with real PostgreSQL.

mod support;

use seesaw::store::{AwsStore, AzureStore, FileStore, GcpStore, SecretStore};
use serde_json::json;
use std::sync::atomic::Ordering;
use support::conformance;
use support::drongo::Drongo;
use support::keyvault::{Mode, Vault};
use support::moto::{ErrorProxy, Moto};
use support::seesaw::Target;

#[tokio::test]
async fn file_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        json!({"current": conformance::adopted()}).to_string(),
    )
    .unwrap();
    conformance::run(&FileStore::new(path)).await;
    conformance::not_found(&FileStore::new(dir.path().join("missing.json"))).await;
    let pending = dir.path().join("p.json");
    std::fs::write(
        &pending,
        json!({"current": conformance::adopted()}).to_string(),
    )
    .unwrap();
    conformance::pending(&FileStore::new(pending.clone()), &FileStore::new(pending)).await;
}

#[tokio::test]
async fn aws_store_conformance() {
    let Some(moto) = Moto::start() else { return };
    moto.create("conformance/app", &conformance::adopted())
        .await;
    let store = AwsStore::connect(&moto.config("conformance/app")).await;
    conformance::run(&store).await;
    conformance::not_found(&AwsStore::connect(&moto.config("no/such/secret")).await).await;
    moto.create("conformance/pending", &conformance::adopted())
        .await;
    conformance::pending(
        &AwsStore::connect(&moto.config("conformance/pending")).await,
        &AwsStore::connect(&moto.config("conformance/pending")).await,
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
    let store = AwsStore::connect(&moto.config("stuck/app")).await;
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

/// Points the target's config at `store_yaml` (one line under `store:`),
/// then rotates three times: the users alternate, the store's current and
/// previous both log in, and no password reaches the output.
async fn rotate_three_times(t: &Target, store_yaml: &str, store: &dyn SecretStore) {
    t.use_store(store_yaml);
    for expected in ["app_b", "app_a", "app_b"] {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        let state = store.read().await.unwrap();
        let current = state.current.document.credential().unwrap();
        let previous = state.previous.unwrap().document.credential().unwrap();
        assert_eq!(current.username, expected);
        use secrecy::ExposeSecret;
        for credential in [&current, &previous] {
            assert!(
                t.cluster
                    .can_login(
                        &credential.username,
                        credential.password.expose_secret(),
                        support::seesaw::DB
                    )
                    .await,
                "{} logs in",
                credential.username
            );
        }
        assert!(!run.all().contains(current.password.expose_secret()));
    }
}

fn initial() -> serde_json::Value {
    json!({"username": "app_a", "password": "initial-Password-1", "engine": "postgres"})
}

#[tokio::test]
async fn a_full_rotation_with_aws_secrets_manager_as_the_store() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    moto.create("prod/app/db", &initial()).await;
    let store = AwsStore::connect(&moto.config("prod/app/db")).await;
    let yaml = format!(
        "aws: {{ secret_id: prod/app/db, region: us-east-1, endpoint_url: \"{}\" }}",
        moto.url
    );
    rotate_three_times(&t, &yaml, &store).await;
}

#[tokio::test]
async fn a_full_rotation_with_gcp_secret_manager_as_the_store() {
    let Some(drongo) = Drongo::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    drongo.create("app-db", &initial()).await;
    let store = GcpStore::connect(&drongo.config("app-db")).await.unwrap();
    let yaml = format!(
        "gcp: {{ project: {}, secret: app-db, endpoint: \"{}\" }}",
        support::drongo::PROJECT,
        drongo.url
    );
    rotate_three_times(&t, &yaml, &store).await;
}

#[tokio::test]
async fn gcp_store_conformance() {
    let Some(drongo) = Drongo::start() else {
        return;
    };
    drongo.create("conformance", &conformance::adopted()).await;
    let store = GcpStore::connect(&drongo.config("conformance"))
        .await
        .unwrap();
    conformance::run(&store).await;
    let missing = GcpStore::connect(&drongo.config("no-such-secret"))
        .await
        .unwrap();
    conformance::not_found(&missing).await;
    drongo.create("pending", &conformance::adopted()).await;
    let open = || async { GcpStore::connect(&drongo.config("pending")).await.unwrap() };
    conformance::pending(&open().await, &open().await).await;
}

/// Without its companion secret, a GCP rotation stops before the database
/// changes and says how to create it.
#[tokio::test]
async fn gcp_without_its_pending_secret_changes_nothing_and_says_how_to_create_it() {
    let Some(drongo) = Drongo::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    drongo.create_without_pending("lonely", &initial()).await;
    t.use_store(&format!(
        "gcp: {{ project: {}, secret: lonely, endpoint: \"{}\" }}",
        support::drongo::PROJECT,
        drongo.url
    ));
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("gcloud secrets create lonely-pending"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(
        !t.cluster.server_log().contains("PASSWORD 'SCRAM-SHA-256"),
        "the database was not touched"
    );
}

#[tokio::test]
async fn gcp_detects_a_writer_that_added_a_version_beside_ours() {
    let Some(drongo) = Drongo::start() else {
        return;
    };
    drongo.create("raced", &conformance::adopted()).await;
    let store = GcpStore::connect(&drongo.config("raced")).await.unwrap();
    let before = store.read().await.unwrap();
    // Another writer adds a version after our read: nothing is written.
    drongo
        .add(
            "raced",
            &json!({"username": "app_a", "password": "hand-Edited-7"}),
        )
        .await;
    let next = seesaw::secret::SecretDocument::from_value(
        json!({"username": "app_b", "password": "ours-Secret-8"}),
    )
    .unwrap();
    let err = store
        .publish(seesaw::store::PublishRequest {
            document: &next,
            replaces: &before.current.version,
            token: "33333333333333333333333333333333",
        })
        .await
        .expect_err("a version added after our read is a conflict");
    assert_eq!(err.kind(), "conflict", "{err}");
    assert_eq!(store.read().await.unwrap().current.version, "2");
    assert!(!err.to_string().contains("hand-Edited-7"));
}

#[tokio::test]
async fn gcp_throttling_is_retried_then_classified_and_denied_names_the_permission() {
    let Some(drongo) = Drongo::start() else {
        return;
    };
    drongo.create("throttled", &conformance::adopted()).await;
    let via = |url: &str| seesaw::config::GcpStoreConfig {
        endpoint: Some(url.into()),
        ..drongo.config("throttled")
    };
    // Two 429s: the client's own retry absorbs them.
    let proxy = ErrorProxy::google(&drongo.url, 429, "RESOURCE_EXHAUSTED", 2).await;
    let state = GcpStore::connect(&via(&proxy.url))
        .await
        .unwrap()
        .read()
        .await
        .expect("retried and then succeeded");
    assert_eq!(state.current.document.username().unwrap(), "app_a");
    assert_eq!(proxy.answered.load(Ordering::SeqCst), 2);

    // Throttled throughout: a transient error, for the caller's backoff.
    let proxy = ErrorProxy::google(&drongo.url, 429, "RESOURCE_EXHAUSTED", 1000).await;
    let err = GcpStore::connect(&via(&proxy.url))
        .await
        .unwrap()
        .read()
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string()
            .contains("gcp secret projects/seesaw-test/secrets/throttled"),
        "{err}"
    );

    // Denied: names the permission and the policy file.
    let proxy = ErrorProxy::google(&drongo.url, 403, "PERMISSION_DENIED", 1000).await;
    let err = GcpStore::connect(&via(&proxy.url))
        .await
        .unwrap()
        .read()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "denied", "{err}");
    assert!(
        err.to_string().contains("secretmanager.versions.list"),
        "{err}"
    );
    assert!(err.to_string().contains("policies/gcp/README.md"), "{err}");
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
    let state = AwsStore::connect(&via(&proxy.url))
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
    let err = AwsStore::connect(&via(&proxy.url))
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
    let err = AwsStore::connect(&via(&proxy.url))
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

#[tokio::test]
async fn azure_store_conformance() {
    let vault = Vault::start();
    vault.set("conformance", &conformance::adopted());
    let store = AzureStore::connect(&vault.config("conformance")).unwrap();
    conformance::run(&store).await;
    conformance::not_found(&AzureStore::connect(&vault.config("no-such-secret")).unwrap()).await;
    vault.set("pending", &conformance::adopted());
    let open = || AzureStore::connect(&vault.config("pending")).unwrap();
    conformance::pending(&open(), &open()).await;
}

#[tokio::test]
async fn a_full_rotation_with_azure_key_vault_as_the_store() {
    let vault = Vault::start();
    let t = Target::new(["app_a", "app_b"]).await;
    vault.set("app-db", &initial());
    let store = AzureStore::connect(&vault.config("app-db")).unwrap();
    let yaml = format!(
        "azure: {{ vault_url: \"{}\", secret: app-db, ca_file: \"{}\" }}",
        vault.url,
        vault.ca_file.display()
    );
    rotate_three_times(&t, &yaml, &store).await;
    assert_eq!(vault.versions("app-db"), 4, "one version per rotation");
}

#[tokio::test]
async fn azure_throttling_is_retried_then_classified_and_denied_names_the_permission() {
    let vault = Vault::start();
    vault.set("throttled", &conformance::adopted());
    let store = AzureStore::connect(&vault.config("throttled")).unwrap();
    // Two 429s: the client's own retry absorbs them.
    vault.set_mode(Mode::Throttle(2));
    let state = store.read().await.expect("retried and then succeeded");
    assert_eq!(state.current.document.username().unwrap(), "app_a");
    assert_eq!(vault.throttled(), 2);

    // Throttled throughout: a transient error, for the caller's backoff.
    vault.set_mode(Mode::Throttle(1000));
    let err = store.read().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains(&vault.url), "{err}");

    // Denied: names the permission, the role and the policy file.
    vault.set_mode(Mode::Deny);
    let err = store.read().await.unwrap_err();
    assert_eq!(err.kind(), "denied", "{err}");
    assert!(
        err.to_string()
            .contains("Microsoft.KeyVault/vaults/secrets/getSecret/action"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Key Vault Secrets Officer"),
        "{err}"
    );
    assert!(
        err.to_string().contains("policies/azure/README.md"),
        "{err}"
    );
}

/// No AWS credentials anywhere is a configuration problem, said once with
/// the fix, not a transient failure retried forever.
#[tokio::test]
async fn aws_without_credentials_says_so_and_is_not_retried() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    moto.create("nocreds/app", &initial()).await;
    t.use_store(&format!(
        "aws: {{ secret_id: nocreds/app, region: us-east-1, endpoint_url: \"{}\" }}",
        moto.url
    ));
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
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let store = AwsStore::connect(&seesaw::config::AwsStoreConfig {
        secret_id: "proxied/app".into(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(url),
        timeout: seesaw::config::default_store_timeout(),
    })
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
