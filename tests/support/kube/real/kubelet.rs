//! A pod's credential resolved the way the kubelet does: env
//! `secretKeyRef`, `envFrom` and Secret volumes of every container.

use super::decode;
use base64::Engine as _;
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use kube::api::Api;
use std::collections::{BTreeMap, HashMap};

/// The username and password a container of `spec` sees, resolved as the
/// kubelet does at container start: env `secretKeyRef`, `envFrom`
/// `secretRef` (with its prefix) and Secret volumes mounted by the
/// container, across every container. Names looked for: `username` /
/// `PGUSER` and `password` / `PGPASSWORD` (env names or file names).
pub async fn credential(spec: &PodSpec, secrets: &Api<Secret>) -> Result<(String, String), String> {
    let mut cache: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let volumes: HashMap<String, (String, Option<Files>)> = spec
        .volumes
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| {
            let s = v.secret?;
            let items = s
                .items
                .map(|items| items.into_iter().map(|i| (i.key, i.path)).collect());
            Some((v.name, (s.secret_name?, items)))
        })
        .collect();
    for c in &spec.containers {
        for e in c.env_from.clone().unwrap_or_default() {
            if let Some(r) = e.secret_ref {
                let data = fetch(secrets, &mut cache, &r.name).await?;
                let prefix = e.prefix.unwrap_or_default();
                for (k, v) in data {
                    seen.insert(format!("{prefix}{k}"), v);
                }
            }
        }
        for e in c.env.clone().unwrap_or_default() {
            let Some(r) = e.value_from.and_then(|v| v.secret_key_ref) else {
                continue;
            };
            let data = fetch(secrets, &mut cache, &r.name).await?;
            let v = data
                .get(&r.key)
                .ok_or_else(|| format!("secret {} has no key {}", r.name, r.key))?;
            seen.insert(e.name, v.clone());
        }
        for m in c.volume_mounts.clone().unwrap_or_default() {
            let Some((secret, items)) = volumes.get(&m.name) else {
                continue;
            };
            let data = fetch(secrets, &mut cache, secret).await?;
            let files: Vec<(String, String)> = match items {
                Some(items) => items.clone(),
                None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
            };
            for (key, path) in files {
                if let Some(v) = data.get(&key) {
                    seen.insert(path, v.clone());
                }
            }
        }
    }
    let pick = |names: &[&str]| names.iter().find_map(|n| seen.get(*n).cloned());
    let user = pick(&["username", "PGUSER"]).ok_or("no username in the pod's env or volumes")?;
    let password =
        pick(&["password", "PGPASSWORD"]).ok_or("no password in the pod's env or volumes")?;
    Ok((user, password))
}

/// A Secret volume's `items`: (key, file name) pairs.
type Files = Vec<(String, String)>;

async fn fetch(
    secrets: &Api<Secret>,
    cache: &mut HashMap<String, BTreeMap<String, String>>,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    if let Some(d) = cache.get(name) {
        return Ok(d.clone());
    }
    let data = secrets
        .get(name)
        .await
        .map(|s| decode(&s))
        .map_err(|e| format!("secret {name}: {e}"))?;
    cache.insert(name.to_owned(), data.clone());
    Ok(data)
}

/// Kubernetes' base64 for a Secret's `data`.
pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}
