//! The shared suite (support::kube::suite) on the fake API server.

use crate::common::NS;
use crate::support::kube::{suite, FakeKube};
use crate::support::seesaw::Target;

/// The shared suite (support::kube::suite) on the fake API server; the
/// same cases run on the real control plane in tests/control_plane/.
async fn on_the_fake() -> (Target, FakeKube, suite::Cluster) {
    let t = Target::new(["app_a", "app_b"]).await;
    let kube = FakeKube::start(None).await;
    let config = kube::Config::new(kube.url.parse().unwrap());
    let cluster = suite::Cluster {
        client: kube::Client::try_from(config).unwrap(),
        kubeconfig: kube.kubeconfig(),
        ns: NS.into(),
    };
    (t, kube, cluster)
}

#[tokio::test]
async fn suite_a_rotation_writes_the_secret_rolls_and_records() {
    let (t, _kube, c) = on_the_fake().await;
    suite::a_rotation_writes_the_secret_rolls_and_records(&c, &t).await;
}

#[tokio::test]
async fn suite_an_immutable_secret_is_named_and_nothing_changes() {
    let (t, _kube, c) = on_the_fake().await;
    suite::an_immutable_secret_is_named_and_nothing_changes(&c, &t).await;
}

#[tokio::test]
async fn suite_a_paused_deployment_is_reported_not_restarted() {
    let (t, _kube, c) = on_the_fake().await;
    suite::a_paused_deployment_is_reported_not_restarted(&c, &t).await;
}

#[tokio::test]
async fn suite_a_missing_namespace_is_named_and_nothing_changes() {
    let (t, _kube, c) = on_the_fake().await;
    suite::a_missing_namespace_is_named_and_nothing_changes(&c, &t).await;
}
