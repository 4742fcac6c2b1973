//! Writing the credential into a Secret.

use super::errors::{is_conflict, Call};
use super::writes::{Mode, VERSION_ANNOTATION};
use crate::config::SecretSpec;
use crate::consumers::ConsumerError;
use crate::secret::SecretDocument;
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Patch;
use kube::Api;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use zeroize::Zeroize;

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "seesaw");
pub const TARGET_LABEL: &str = "seesaw.io/target";
const ATTEMPTS: u32 = 5;

/// Brings one Secret to `document`. Returns the request that wrote it (or,
/// under `Preview`, would; under `Prove`, was tried): "patch" or "create";
/// `None` when it already held the values. A Secret whose keys already
/// hold the rendered values is left alone; keys seesaw does not manage
/// are kept.
pub(super) async fn sync(
    client: &kube::Client,
    spec: &SecretSpec,
    document: &SecretDocument,
    version: &str,
    target: &str,
    mode: Mode,
) -> Result<Option<&'static str>, ConsumerError> {
    let mut data =
        crate::templates::render(spec.data.as_ref(), document).map_err(|(key, message)| {
            ConsumerError::Template {
                secret: format!("{}/{}", spec.namespace, spec.name),
                key,
                message,
            }
        })?;
    let result = write(client, spec, &data, version, target, mode).await;
    for value in data.values_mut() {
        value.zeroize();
    }
    result
}

async fn write(
    client: &kube::Client,
    spec: &SecretSpec,
    data: &BTreeMap<String, String>,
    version: &str,
    target: &str,
    mode: Mode,
) -> Result<Option<&'static str>, ConsumerError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
    let call = |verb| Call {
        verb,
        group: "",
        resource: "secrets",
        namespace: &spec.namespace,
        name: &spec.name,
    };
    let encoded: Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    for attempt in 0..ATTEMPTS {
        let existing = api
            .get_opt(&spec.name)
            .await
            .map_err(|e| call("get").error(e))?;
        let Some(existing) = existing else {
            if mode == Mode::Preview {
                return Ok(Some("create"));
            }
            let secret: Secret = serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {
                    "name": spec.name,
                    "namespace": spec.namespace,
                    "labels": {MANAGED_BY.0: MANAGED_BY.1, TARGET_LABEL: target},
                    "annotations": {VERSION_ANNOTATION: version},
                },
                "data": encoded,
            }))
            .map_err(|e| ConsumerError::Api {
                doing: format!("build secret {}/{}", spec.namespace, spec.name),
                message: crate::reason::json(&e),
                transient: false,
            })?;
            match api.create(&mode.post_params(), &secret).await {
                Ok(_) => return Ok(Some("create")),
                // Created meanwhile by someone else: compare with theirs.
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(call("create").error(e)),
            }
        };
        let current = existing.data.unwrap_or_default();
        let matches = data
            .iter()
            .all(|(k, v)| current.get(k).is_some_and(|b| b.0 == v.as_bytes()));
        if matches && mode != Mode::Prove {
            return Ok(None);
        }
        if existing.immutable == Some(true) {
            return Err(ConsumerError::Immutable {
                secret: format!("{}/{}", spec.namespace, spec.name),
            });
        }
        if mode == Mode::Preview {
            return Ok(Some("patch"));
        }
        // resourceVersion makes the merge patch conditional: a write by
        // someone else since our read gives 409 and we start over.
        let patch = json!({
            "metadata": {
                "resourceVersion": existing.metadata.resource_version,
                "annotations": {VERSION_ANNOTATION: version},
            },
            "data": encoded,
        });
        match api
            .patch(&spec.name, &mode.patch_params(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(Some("patch")),
            Err(e) if is_conflict(&e) && attempt + 1 < ATTEMPTS => {
                tracing::info!(secret = %spec.name, namespace = %spec.namespace, attempt,
                    "conflict patching the Secret; re-reading");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            Err(e) => return Err(call("patch").error(e)),
        }
    }
    Err(ConsumerError::Api {
        doing: format!("patch secrets {}/{}", spec.namespace, spec.name),
        message: format!(
            "still conflicting after {ATTEMPTS} attempts: something else keeps writing this Secret"
        ),
        transient: true,
    })
}
