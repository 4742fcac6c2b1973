//! What the fake does to an object: kind names, the Event views of the two
//! groups, name checks and admission, and field paths for field ownership.

use base64::Engine as _;
use serde_json::{json, Value};

/// Leaf paths of an object's fields (arrays are leaves), skipping the
/// identifying ones that every request carries.
pub(super) fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let path = format!("{prefix}.{k}");
                if matches!(
                    path.as_str(),
                    ".apiVersion"
                        | ".kind"
                        | ".metadata.name"
                        | ".metadata.namespace"
                        | ".metadata.resourceVersion"
                ) {
                    continue;
                }
                leaves(child, &path, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

pub(super) fn at<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').skip(1).fold(v, |v, k| &v[k])
}

pub(super) fn kind_of(resource: &str) -> &'static str {
    match resource {
        "secrets" => "Secret",
        "events" => "Event",
        "deployments" => "Deployment",
        "statefulsets" => "StatefulSet",
        "daemonsets" => "DaemonSet",
        "leases" => "Lease",
        _ => "Object",
    }
}

/// An Event as the group asking for it shows it: the real server serves
/// every Event through both core/v1 (`involvedObject`, `message`) and
/// events.k8s.io/v1 (`regarding`, `note`), whichever wrote it.
pub(super) fn in_group(group: &str, resource: &str, mut obj: Value) -> Value {
    if resource != "events" {
        return obj;
    }
    let o = obj.as_object_mut().expect("an object");
    let (api_version, renames) = match group {
        "events.k8s.io" => (
            "events.k8s.io/v1",
            [("involvedObject", "regarding"), ("message", "note")],
        ),
        _ => ("v1", [("regarding", "involvedObject"), ("note", "message")]),
    };
    for (old, new) in renames {
        if let Some(v) = o.remove(old) {
            o.insert(new.into(), v);
        }
    }
    o.insert("apiVersion".into(), json!(api_version));
    obj
}

pub fn is_workload(resource: &str) -> bool {
    matches!(resource, "deployments" | "statefulsets" | "daemonsets")
}

fn dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Checks and normalises an object before it is stored.
pub(super) fn admit(resource: &str, obj: &mut Value) -> Result<(), String> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !dns_subdomain(&name) {
        return Err(format!("metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"));
    }
    if resource == "secrets" {
        if let Some(Value::Object(string_data)) =
            obj.as_object_mut().and_then(|o| o.remove("stringData"))
        {
            let data = obj["data"].as_object().cloned().unwrap_or_default();
            let mut data = data;
            for (k, v) in string_data {
                let text = v.as_str().unwrap_or_default();
                data.insert(
                    k,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
            obj["data"] = Value::Object(data);
        }
        if let Some(data) = obj["data"].as_object() {
            for (k, v) in data {
                let ok = v
                    .as_str()
                    .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
                if !ok {
                    return Err(format!("data[{k}]: Invalid value: must be base64"));
                }
            }
        }
    }
    Ok(())
}
