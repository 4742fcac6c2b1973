//! Every store passes the conformance suite; a full rotation runs against
//! each with real PostgreSQL.

mod support;

use seesaw::store::{AwsStore, FileStore, SecretStore};
use serde_json::json;
use support::conformance;
use support::moto::Moto;
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
}

#[tokio::test]
async fn aws_store_conformance() {
    let Some(moto) = Moto::start() else { return };
    moto.create("conformance/app", &conformance::adopted())
        .await;
    let store = AwsStore::connect(&moto.config("conformance/app")).await;
    conformance::run(&store).await;
    conformance::not_found(&AwsStore::connect(&moto.config("no/such/secret")).await).await;
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
    assert!(err.to_string().contains("still staged AWSPENDING"), "{err}");
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
    moto.create(
        "prod/app/db",
        &json!({"username": "app_a", "password": "initial-Password-1", "engine": "postgres"}),
    )
    .await;
    let config = std::fs::read_to_string(&t.config).unwrap();
    let file_store = format!("      file: {{ path: {} }}\n", t.store.display());
    let aws_store = format!(
        "      aws: {{ secret_id: prod/app/db, region: us-east-1, endpoint_url: \"{}\" }}\n",
        moto.url
    );
    std::fs::write(&t.config, config.replace(&file_store, &aws_store)).unwrap();
    let store = AwsStore::connect(&moto.config("prod/app/db")).await;
    for expected in ["app_b", "app_a", "app_b"] {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        let state = store.read().await.unwrap();
        let current = state.current.document.credential().unwrap();
        let previous = state.previous.unwrap().document.credential().unwrap();
        assert_eq!(current.username, expected);
        use secrecy::ExposeSecret;
        assert!(
            t.cluster
                .can_login(
                    &current.username,
                    current.password.expose_secret(),
                    support::seesaw::DB
                )
                .await
        );
        assert!(
            t.cluster
                .can_login(
                    &previous.username,
                    previous.password.expose_secret(),
                    support::seesaw::DB
                )
                .await
        );
        assert!(!run.all().contains(current.password.expose_secret()));
    }
}

#[tokio::test]
async fn aws_throttling_is_retried_then_classified_and_denied_names_the_permission() {
    let Some(moto) = Moto::start() else { return };
    moto.create("throttled/app", &conformance::adopted()).await;
    let via = |url: &str| seesaw::config::AwsStoreConfig {
        secret_id: "throttled/app".into(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(url.into()),
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
