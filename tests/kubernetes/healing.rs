//! Propagation healed by later runs: after a crash between publish and
//! propagate, not without the lock, and `follow` for hand-edited Secrets.

use crate::common::{seesaw, settled, setup, NS};
use crate::support;
use crate::support::kube::FakeKube;
use crate::support::seesaw::Target;
use serde_json::json;
use std::time::Duration;

struct FailAfter(&'static str);

impl seesaw::runtime::Progress for FailAfter {
    fn finished(&self, _: &str, step: &seesaw::rotation::Step, _: Duration) -> Result<(), String> {
        if step.name() == self.0 {
            Err("fault injected".into())
        } else {
            Ok(())
        }
    }
}

async fn engine(t: &Target, kube: &FakeKube) -> seesaw::runtime::Engine {
    let config = seesaw::config::Config::load(&t.config).unwrap();
    let options = seesaw::runtime::EngineOptions {
        kubeconfig: Some(kube.kubeconfig()),
        ..support::seesaw::engine_options()
    };
    seesaw::runtime::Engine::from_config(&config.targets[0], &options)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_crash_between_publish_and_propagate_is_healed_by_the_next_run() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    // The first run also fills in the Secret's DATABASE_URL: let it finish.
    assert_eq!(seesaw(&t, &kube, &["rotate", "demo"]).await.code, 0);
    let e = engine(&t, &kube).await;
    let err = e
        .rotate(Default::default(), &FailAfter("publish"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "interrupted");
    let (published, _) = t.login("current");
    assert_ne!(
        kube.secret_data(NS, "app-db")["username"],
        published,
        "the crash left the Secret behind"
    );

    let plan = seesaw(&t, &kube, &["plan", "demo"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.stdout.contains("healed first: Secret shop/app-db"),
        "{}",
        plan.stdout
    );
    assert_ne!(
        kube.secret_data(NS, "app-db")["username"],
        published,
        "plan must not change anything"
    );

    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["username"],
        t.login("current").0
    );
    assert_eq!(kube.sim.failed_logins(), 0);
}

/// Healing writes consumers, so it happens only under the target's lock:
/// a run that finds the lock taken changes no Secret.
#[tokio::test]
async fn a_run_without_the_lock_heals_nothing() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let mut secret = kube.get("secrets", NS, "app-db").unwrap();
    secret["data"]["password"] = json!("aGFuZC1lZGl0ZWQ="); // "hand-edited"
    kube.put("secrets", NS, secret);
    let holder = t.hold_lock().await;
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        "hand-edited",
        "healed without the lock"
    );
    drop(holder);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        t.login("current").1
    );
}

#[tokio::test]
async fn follow_heals_a_hand_edited_secret_and_carries_new_versions() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let mut secret = kube.get("secrets", NS, "app-db").unwrap();
    secret["data"]["password"] = json!("aGFuZC1lZGl0ZWQ="); // "hand-edited"
    kube.put("secrets", NS, secret);
    // follow never logs in to the database, so it needs no admin password
    // (deploy/kubernetes/06-follow.yaml.example mounts none).
    let kubeconfig = kube.kubeconfig();
    let run = t
        .seesaw_with(
            &["follow", "demo", "--once"],
            &[
                ("KUBECONFIG", Some(kubeconfig.as_os_str())),
                ("KUBERNETES_SERVICE_HOST", None),
                ("TEST_ADMIN_PASSWORD", None),
            ],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        t.login("current").1,
        "the edit was healed"
    );
    let restarted = kube.get("deployments", NS, "api").unwrap();
    assert!(
        restarted["spec"]["template"]["metadata"]["annotations"]["seesaw.io/restarted-at"]
            .is_string()
    );

    // Something else (the Lambda) rotates the store: follow carries it over.
    let lambda_config = t.cluster.dir().join("lambda.yaml");
    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &lambda_config,
        &text[..text.find("    kubernetes:").unwrap()],
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&lambda_config)
        .args(["rotate", "demo"])
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let run = seesaw(&t, &kube, &["follow", "demo", "--once", "--output", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let passes: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(passes[0]["username"], "app_b");
    assert_eq!(
        passes[0]["propagation"]["workloads_restarted"][0],
        "Deployment shop/api"
    );
    assert_eq!(kube.secret_data(NS, "app-db")["username"], "app_b");
    assert_eq!(kube.sim.failed_logins(), 0);
    // Nothing changed since: a second pass writes nothing.
    let before = kube.requests("patch");
    assert_eq!(
        seesaw(&t, &kube, &["follow", "demo", "--once"]).await.code,
        0
    );
    assert_eq!(
        kube.requests("patch"),
        before,
        "an up-to-date Secret must not be written"
    );
}
