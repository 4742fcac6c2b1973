//! The HTTP side of the fake: routing a path to a request, and answering
//! each verb as the real API server does.

use super::objects::{admit, at, in_group, is_workload, kind_of, leaves};
use super::{access, discovery, merge, watch, Inner};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
}

struct Req {
    method: Method,
    group: String,
    resource: String,
    namespace: String,
    name: Option<String>,
}

async fn handle(
    State(fake): State<Arc<Shared>>,
    req: Req,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // As the real server: without fieldManager, the user agent up to its
    // first `/` names the manager.
    let manager = query.get("fieldManager").cloned().unwrap_or_else(|| {
        headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|m| !m.is_empty())
            .unwrap_or("unknown")
            .to_owned()
    });
    let force = query.get("force").is_some_and(|f| f == "true");
    // As the real server: a dry run is authorized and admitted like the
    // write itself, and nothing of it is stored.
    let dry = query.get("dryRun").is_some_and(|d| d == "All");
    let verb = match (&req.method, &req.name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::GET, None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            "watch"
        }
        (&Method::GET, None) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, _) => "delete",
        _ => return status(405, "MethodNotAllowed", "method not allowed".into()),
    };
    // A watch names its object through the field selector.
    let selected = query
        .get("fieldSelector")
        .and_then(|f| f.strip_prefix("metadata.name="))
        .map(str::to_owned);
    let mut inner = fake.state.lock().unwrap();
    let shown_name = req.name.clone().or(selected.clone()).unwrap_or_default();
    let logged = if dry { "dryrun " } else { "" };
    inner
        .requests
        .push(format!("{logged}{verb} {} {shown_name}", req.resource));
    if inner
        .denied
        .iter()
        .any(|(v, r)| v == verb && r == &req.resource)
    {
        return status(403, "Forbidden", format!(
            "{} \"{shown_name}\" is forbidden: User \"system:serviceaccount:seesaw:seesaw\" cannot {verb} resource \"{}\" in API group \"{}\" in the namespace \"{}\"",
            req.resource, req.resource, req.group, req.namespace));
    }
    if let Some(i) = inner
        .injections
        .iter()
        .position(|(v, r, _, n)| v == verb && r == &req.resource && *n > 0 && !dry)
    {
        inner.injections[i].3 -= 1;
        let code = inner.injections[i].2;
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            _ => "InternalError",
        };
        return status(
            code,
            reason,
            format!("injected {code} for {verb} {}", req.resource),
        );
    }
    let key = |name: &str| (req.resource.clone(), req.namespace.clone(), name.to_owned());
    let not_found = |name: &str| {
        status(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", req.resource),
        )
    };
    match verb {
        "watch" => {
            let Some(name) = selected else {
                return status(
                    400,
                    "BadRequest",
                    "this fake watches one object: fieldSelector=metadata.name=NAME".into(),
                );
            };
            drop(inner);
            let timeout = query
                .get("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .unwrap_or(300);
            watch::stream(
                fake.state.clone(),
                key(&name),
                req.group.clone(),
                query
                    .get("resourceVersion")
                    .map(String::as_str)
                    .unwrap_or(""),
                std::time::Duration::from_secs(timeout),
            )
        }
        "list" => {
            let items: Vec<Value> = inner
                .objects
                .iter()
                .filter(|((r, ns, _), _)| r == &req.resource && ns == &req.namespace)
                .map(|(_, v)| in_group(&req.group, &req.resource, v.clone()))
                .collect();
            let rv = inner.rv.to_string();
            Json(json!({"kind": format!("{}List", kind_of(&req.resource)), "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items})).into_response()
        }
        "get" => match inner.objects.get(&key(&shown_name)) {
            Some(v) => Json(in_group(&req.group, &req.resource, v.clone())).into_response(),
            None => not_found(&shown_name),
        },
        "delete" => match inner.objects.remove(&key(&shown_name)) {
            Some(v) => Json(v).into_response(),
            None => not_found(&shown_name),
        },
        "create" if !inner.namespaces.contains(&req.namespace) => status(
            404,
            "NotFound",
            format!("namespaces \"{}\" not found", req.namespace),
        ),
        "create" => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "body is not JSON".into());
            };
            if obj["metadata"]["name"].as_str().is_none() {
                if let Some(prefix) = obj["metadata"]["generateName"].as_str() {
                    let n = inner.rv + 1;
                    obj["metadata"]["name"] = Value::String(format!("{prefix}{n:05x}"));
                }
            }
            if let Err(m) = admit(&req.resource, &mut obj) {
                return status(
                    422,
                    "Invalid",
                    format!("{} is invalid: {m}", kind_of(&req.resource)),
                );
            }
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if inner.objects.contains_key(&key(&name)) {
                return status(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", req.resource),
                );
            }
            let rv = if dry {
                inner.rv.to_string()
            } else {
                inner.next_rv()
            };
            let meta = &mut obj["metadata"];
            meta["namespace"] = Value::String(req.namespace.clone());
            meta["resourceVersion"] = Value::String(rv.clone());
            meta["uid"] = Value::String(format!("uid-{rv}"));
            meta["creationTimestamp"] = Value::String("2026-01-01T00:00:00Z".into());
            if is_workload(&req.resource) {
                meta["generation"] = json!(1);
            }
            // As the real server: each writer is listed by its manager.
            meta["managedFields"] = json!([{"manager": manager, "operation": "Update"}]);
            obj["kind"] = Value::String(kind_of(&req.resource).into());
            if !dry {
                inner.objects.insert(key(&name), obj.clone());
            }
            (StatusCode::CREATED, Json(obj)).into_response()
        }
        "update" | "patch" => {
            let Some(old) = inner.objects.get(&key(&shown_name)).cloned() else {
                return not_found(&shown_name);
            };
            let Ok(incoming) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "body is not JSON".into());
            };
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if verb == "patch" && content_type.starts_with("application/json-patch+json") {
                return status(
                    415,
                    "UnsupportedMediaType",
                    "json patch is not supported by this fake".into(),
                );
            }
            let sent_rv = incoming["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_owned);
            if let Some(rv) = &sent_rv {
                if Some(rv.as_str()) != old["metadata"]["resourceVersion"].as_str() {
                    return status(409, "Conflict", format!(
                        "Operation cannot be fulfilled on {} \"{shown_name}\": the object has been modified; please apply your changes to the latest version and try again",
                        req.resource));
                }
            }
            let apply = content_type.starts_with("application/apply-patch");
            let mut fields = Vec::new();
            leaves(&incoming, "", &mut fields);
            let mut owners = inner
                .managed
                .get(&key(&shown_name))
                .cloned()
                .unwrap_or_default();
            if apply && !force {
                // Server-side apply: changing a field that another manager
                // owns is a conflict (a same value is shared, not a conflict).
                let conflicts: Vec<String> = fields
                    .iter()
                    .filter(|(path, value)| {
                        owners.get(path).is_some_and(|m| m != &manager)
                            && at(&old, path) != value
                            && !value.is_null()
                    })
                    .map(|(path, _)| format!("conflict with \"{}\": {path}", owners[path]))
                    .collect();
                if !conflicts.is_empty() {
                    return status(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with {} conflict(s): {}",
                            conflicts.len(),
                            conflicts.join("; ")
                        ),
                    );
                }
            }
            for (path, value) in &fields {
                if value.is_null() {
                    owners.remove(path);
                } else {
                    owners.insert(path.clone(), manager.clone());
                }
            }
            if !dry {
                inner.managed.insert(key(&shown_name), owners);
            }
            let mut obj = if verb == "update" {
                incoming
            } else {
                merge::merge(&old, &incoming)
            };
            if old["immutable"] == json!(true) && obj["data"] != old["data"] {
                return status(
                    422,
                    "Invalid",
                    format!("Secret \"{shown_name}\" is invalid: data: Forbidden: field is immutable when `immutable` is set"),
                );
            }
            if let Err(m) = admit(&req.resource, &mut obj) {
                return status(
                    422,
                    "Invalid",
                    format!(
                        "{} \"{shown_name}\" is invalid: {m}",
                        kind_of(&req.resource)
                    ),
                );
            }
            // Server-owned fields stay the server's.
            for field in ["uid", "creationTimestamp", "namespace", "name"] {
                obj["metadata"][field] = old["metadata"][field].clone();
            }
            if is_workload(&req.resource) {
                obj["status"] = old["status"].clone();
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
                let bumped = if obj["spec"] != old["spec"] {
                    generation + 1
                } else {
                    generation
                };
                obj["metadata"]["generation"] = json!(bumped);
            }
            let mut managers = old["metadata"]["managedFields"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !managers.iter().any(|m| m["manager"] == json!(manager)) {
                let operation = if apply { "Apply" } else { "Update" };
                managers.push(json!({"manager": manager, "operation": operation}));
            }
            obj["metadata"]["managedFields"] = Value::Array(managers);
            obj["kind"] = old["kind"].clone();
            if dry {
                return Json(obj).into_response();
            }
            obj["metadata"]["resourceVersion"] = Value::String(inner.next_rv());
            inner.objects.insert(key(&shown_name), obj.clone());
            Json(obj).into_response()
        }
        _ => status(405, "MethodNotAllowed", "method not allowed".into()),
    }
}

pub struct Shared {
    pub state: Arc<Mutex<Inner>>,
}

fn route(method: Method, segments: &[String]) -> Option<Req> {
    // /api/v1/namespaces/{ns}/{res}[/{name}] or /apis/{g}/{v}/namespaces/{ns}/{res}[/{name}]
    let (group, rest) = match segments {
        [api, v, rest @ ..] if api == "api" && v == "v1" => (String::new(), rest),
        [apis, g, _v, rest @ ..] if apis == "apis" => (g.clone(), rest),
        _ => return None,
    };
    match rest {
        [ns_word, ns, res] if ns_word == "namespaces" => Some(Req {
            method,
            group,
            resource: res.clone(),
            namespace: ns.clone(),
            name: None,
        }),
        [ns_word, ns, res, name] if ns_word == "namespaces" => Some(Req {
            method,
            group,
            resource: res.clone(),
            namespace: ns.clone(),
            name: Some(name.clone()),
        }),
        _ => None,
    }
}

pub(super) async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(path): Path<String>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if method == Method::GET {
        if let Some(doc) = discovery::answer(&segments) {
            return Json(doc).into_response();
        }
    }
    if method == Method::POST && access::is_review(&segments) {
        return access::review(&shared.state, &body);
    }
    match route(method, &segments) {
        Some(req) => handle(State(shared), req, query, headers, body).await,
        None => status(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        ),
    }
}
