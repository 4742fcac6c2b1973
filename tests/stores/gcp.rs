//! GCP Secret Manager (on drongo): conformance, a full rotation, the
//! pending secret, another writer, throttling and denial.

use crate::common::{initial, rotate_three_times};
use crate::support::drongo::Drongo;
use crate::support::moto::ErrorProxy;
use crate::support::seesaw::Target;
use crate::support::{self, conformance};
use seesaw::store::{GcpStore, SecretStore};
use serde_json::json;
use std::sync::atomic::Ordering;

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
    rotate_three_times(&t, &yaml, &[], &store).await;
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
    t.use_store(
        &format!(
            "gcp: {{ project: {}, secret: lonely, endpoint: \"{}\" }}",
            support::drongo::PROJECT,
            drongo.url
        ),
        &[],
    );
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

/// The GCP client on seesaw's one crypto provider (ring; the SDK's
/// aws-lc default is off): HTTPS through a TLS-terminating proxy in front
/// of drongo, trusting the test CA through SSL_CERT_FILE, with a service
/// account key whose self-signed token is signed by ring's key provider.
/// Nothing here reaches Google: drongo does not check the token.
#[tokio::test]
async fn gcp_over_https_with_a_service_account_key_uses_seesaws_crypto_provider() {
    let Some(drongo) = Drongo::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    drongo.create("https-db", &initial()).await;
    let ca = support::tls::TestCa::new(&["localhost"]);
    let upstream = drongo.url.trim_start_matches("http://").to_owned();
    let port = ca.terminate(&upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    // An RSA key (PKCS#8) as a service account's JSON key file holds it.
    let key = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl (installed by .ci/run) generates the service account's key");
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let account = dir.path().join("service-account.json");
    std::fs::write(
        &account,
        json!({
            "type": "service_account",
            "project_id": support::drongo::PROJECT,
            "private_key_id": "0123456789abcdef",
            "private_key": String::from_utf8(key.stdout).unwrap(),
            "client_email": "seesaw@test-project.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string(),
    )
    .unwrap();
    let store = GcpStore::connect(&drongo.config("https-db")).await.unwrap();
    let yaml = format!(
        "gcp: {{ project: {}, secret: https-db, endpoint: \"https://localhost:{port}\" }}",
        support::drongo::PROJECT,
    );
    let env = [
        ("SSL_CERT_FILE".to_owned(), ca_file.display().to_string()),
        (
            "GOOGLE_APPLICATION_CREDENTIALS".to_owned(),
            account.display().to_string(),
        ),
    ];
    rotate_three_times(&t, &yaml, &env, &store).await;
}
