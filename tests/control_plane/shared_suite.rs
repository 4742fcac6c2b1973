//! The shared suite (support::kube::suite) on the real API server.

use crate::support::kube::real::RealKube;
use crate::support::kube::suite;
use crate::support::seesaw::Target;

/// The shared suite (support::kube::suite) on the real API server; the
/// same cases run on the fake in tests/kubernetes/.
async fn on_the_real_server() -> Option<(Target, RealKube, suite::Cluster)> {
    let kube = RealKube::connect().await?;
    let t = Target::new(["app_a", "app_b"]).await;
    let cluster = suite::Cluster {
        client: kube.client.clone(),
        kubeconfig: kube.kubeconfig.clone(),
        ns: kube.ns.clone(),
    };
    Some((t, kube, cluster))
}

#[tokio::test]
async fn suite_a_rotation_writes_the_secret_rolls_and_records() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::a_rotation_writes_the_secret_rolls_and_records(&c, &t).await;
}

#[tokio::test]
async fn suite_an_immutable_secret_is_named_and_nothing_changes() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::an_immutable_secret_is_named_and_nothing_changes(&c, &t).await;
}

#[tokio::test]
async fn suite_a_paused_deployment_is_reported_not_restarted() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::a_paused_deployment_is_reported_not_restarted(&c, &t).await;
}

#[tokio::test]
async fn suite_a_missing_namespace_is_named_and_nothing_changes() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::a_missing_namespace_is_named_and_nothing_changes(&c, &t).await;
}
