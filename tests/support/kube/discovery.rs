//! API discovery (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`),
//! so kubectl can map the manifests' kinds to resources against the fake.
//! Legacy (v1) discovery documents only; kubectl falls back to them.

use serde_json::{json, Value};

/// (resource, kind, namespaced)
type Resource = (&'static str, &'static str, bool);

/// (group, version, resources)
const GROUPS: &[(&str, &str, &[Resource])] = &[
    (
        "",
        "v1",
        &[
            ("secrets", "Secret", true),
            ("configmaps", "ConfigMap", true),
            ("serviceaccounts", "ServiceAccount", true),
            ("events", "Event", true),
            ("services", "Service", true),
            ("namespaces", "Namespace", false),
        ],
    ),
    (
        "apps",
        "v1",
        &[
            ("deployments", "Deployment", true),
            ("statefulsets", "StatefulSet", true),
            ("daemonsets", "DaemonSet", true),
        ],
    ),
    (
        "batch",
        "v1",
        &[("cronjobs", "CronJob", true), ("jobs", "Job", true)],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        &[
            ("roles", "Role", true),
            ("rolebindings", "RoleBinding", true),
        ],
    ),
    ("coordination.k8s.io", "v1", &[("leases", "Lease", true)]),
    (
        "policy",
        "v1",
        &[("poddisruptionbudgets", "PodDisruptionBudget", true)],
    ),
];

pub fn answer(segments: &[String]) -> Option<Value> {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => {
            Some(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-seesaw-fake"}))
        }
        ["api"] => Some(
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        ["apis"] => Some(json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": GROUPS.iter().filter(|(g, _, _)| !g.is_empty()).map(|(g, v, _)| json!({
                "name": g,
                "versions": [{"groupVersion": format!("{g}/{v}"), "version": v}],
                "preferredVersion": {"groupVersion": format!("{g}/{v}"), "version": v},
            })).collect::<Vec<_>>(),
        })),
        ["api", "v1"] => Some(resources("", "v1")),
        ["apis", g, v] => GROUPS
            .iter()
            .any(|(gg, vv, _)| gg == g && vv == v)
            .then(|| resources(g, v)),
        _ => None,
    }
}

fn resources(group: &str, version: &str) -> Value {
    let (_, _, list) = GROUPS
        .iter()
        .find(|(g, v, _)| *g == group && *v == version)
        .unwrap();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
        "resources": list.iter().map(|(name, kind, namespaced)| json!({
            "name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        })).collect::<Vec<_>>(),
    })
}
