//! The fake API server behaves as the real one documents, for what the
//! other tests rely on.

mod support;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;
use support::kube::FakeKube;

async fn api(kube: &FakeKube) -> Api<Secret> {
    let config = kube::Config::new(kube.url.parse().unwrap());
    Api::namespaced(kube::Client::try_from(config).unwrap(), "shop")
}

fn code(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn secrets_fold_string_data_and_validate() {
    let kube = FakeKube::start(None).await;
    let secrets = api(&kube).await;
    let s: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .unwrap();
    let created = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(created.data.unwrap()["k"].0, b"v");
    // An immutable Secret refuses a change of its data (422).
    let frozen: Secret = serde_json::from_value(
        json!({"metadata": {"name": "frozen"}, "immutable": true, "stringData": {"k": "v"}}),
    )
    .unwrap();
    secrets
        .create(&PostParams::default(), &frozen)
        .await
        .unwrap();
    let change = json!({"data": {"k": "dw=="}});
    let err = secrets
        .patch("frozen", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .unwrap_err();
    assert_eq!(code(err), 422);
    // As on a real API server: no writes into a namespace that is not there.
    let config = kube::Config::new(kube.url.parse().unwrap());
    let elsewhere: Api<Secret> =
        Api::namespaced(kube::Client::try_from(config).unwrap(), "nowhere");
    assert_eq!(
        code(
            elsewhere
                .create(&PostParams::default(), &s)
                .await
                .unwrap_err()
        ),
        404
    );
    assert!(created.string_data.is_none());
    assert_eq!(
        code(
            secrets
                .create(&PostParams::default(), &s)
                .await
                .unwrap_err()
        ),
        409,
        "AlreadyExists"
    );
    let bad: Secret = serde_json::from_value(json!({"metadata": {"name": "Bad_Name"}})).unwrap();
    assert_eq!(
        code(
            secrets
                .create(&PostParams::default(), &bad)
                .await
                .unwrap_err()
        ),
        422
    );
    let patch = json!({"data": {"k": "not base64!"}});
    assert_eq!(
        code(
            secrets
                .patch("s", &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap_err()
        ),
        422
    );
    assert_eq!(code(secrets.get("missing").await.unwrap_err()), 404);
}

#[tokio::test]
async fn stale_resource_versions_conflict_and_denied_verbs_are_forbidden() {
    let kube = FakeKube::start(None).await;
    let secrets = api(&kube).await;
    let s: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .unwrap();
    let created = secrets.create(&PostParams::default(), &s).await.unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let first = json!({"metadata": {"resourceVersion": rv}, "stringData": {"k": "w"}});
    secrets
        .patch("s", &PatchParams::default(), &Patch::Merge(&first))
        .await
        .unwrap();
    // The same (now stale) resourceVersion again: 409.
    assert_eq!(
        code(
            secrets
                .patch("s", &PatchParams::default(), &Patch::Merge(&first))
                .await
                .unwrap_err()
        ),
        409
    );
    assert_eq!(
        code(
            secrets
                .replace("s", &PostParams::default(), &created)
                .await
                .unwrap_err()
        ),
        409
    );
    // Without a resourceVersion a merge patch is unconditional; null deletes a key.
    let unconditional = json!({"data": {"k": null, "x": "eA=="}});
    let after = secrets
        .patch("s", &PatchParams::default(), &Patch::Merge(&unconditional))
        .await
        .unwrap();
    let data = after.data.unwrap();
    assert!(!data.contains_key("k"));
    assert_eq!(data["x"].0, b"x");
    kube.deny("get", "secrets");
    assert_eq!(code(secrets.get("s").await.unwrap_err()), 403);
}
