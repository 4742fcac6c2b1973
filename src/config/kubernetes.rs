//! The Kubernetes consumers of a target: Secrets, workloads, rollout waits.

use super::*;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    #[serde(default, deserialize_with = "empty_if_null")]
    pub secrets: Vec<SecretSpec>,
    #[serde(default, deserialize_with = "empty_if_null")]
    pub workloads: Vec<WorkloadRef>,
    #[serde(default)]
    pub rollout: RolloutConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    pub name: String,
    pub namespace: String,
    /// Keys -> minijinja templates over the secret document. Without it,
    /// the document's fields become the keys.
    #[serde(default)]
    pub data: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}/{}", self.kind, self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// Wait for the restarted workloads to finish rolling out.
    #[serde(default = "yes")]
    pub wait: bool,
    #[serde(
        default = "default_rollout_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub timeout: Duration,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            wait: true,
            timeout: default_rollout_timeout(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_rollout_timeout() -> Duration {
    Duration::from_secs(600)
}

/// RFC 1123 subdomain, as Kubernetes requires of object names.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

pub(super) fn validate_kubernetes(k: &KubernetesConfig) -> Result<(), (&'static str, String)> {
    for s in &k.secrets {
        if !is_dns_subdomain(&s.name) || !is_dns_subdomain(&s.namespace) {
            return Err((
                "kubernetes.secrets",
                format!(
                    "{}/{}: expected lower-case DNS names (a-z, 0-9, -, .) for name and namespace",
                    s.namespace, s.name
                ),
            ));
        }
        for (key, template) in s.data.iter().flatten() {
            let key_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !key_ok {
                return Err((
                    "kubernetes.secrets.data",
                    format!(
                        "{}: key {key:?} is not a valid Secret key (letters, digits, -, _, .)",
                        s.name
                    ),
                ));
            }
            crate::templates::check(template).map_err(|m| {
                (
                    "kubernetes.secrets.data",
                    format!("{}: key {key}: {m}", s.name),
                )
            })?;
        }
    }
    for w in &k.workloads {
        if !is_dns_subdomain(&w.name) || !is_dns_subdomain(&w.namespace) {
            return Err((
                "kubernetes.workloads",
                format!("{w}: expected lower-case DNS names for name and namespace"),
            ));
        }
    }
    Ok(())
}
