//! A stateful fake of the Kubernetes API subset seesaw uses, served over
//! plain HTTP on loopback (no API server can be installed here).
//!
//! Follows the documented behaviour of the real API where seesaw can tell:
//! - namespaced GET / LIST / POST / PUT / PATCH / DELETE on any resource
//!   (secrets, events, deployments, statefulsets, daemonsets, leases);
//! - `resourceVersion` on every object, bumped on each write; a PUT, or a
//!   PATCH that carries `metadata.resourceVersion`, with a stale one gets
//!   409 Conflict; POST of an existing name gets 409 AlreadyExists;
//! - 404 NotFound; 403 Forbidden for verbs/resources denied by the test's
//!   RBAC rules (message shaped like the real one); 422 Invalid for a bad
//!   name or Secret data that is not base64;
//! - Secrets: `stringData` folded into base64 `data`;
//! - PATCH: JSON merge patch (RFC 7386). Strategic merge and server-side
//!   apply are treated as merge patches too: a simplification, exact for
//!   the map-only patches seesaw sends (lists would be merged differently);
//! - `metadata.generation` bumps when a workload's spec changes; status is
//!   written by the rollout simulator (see `sim`).
//!
//! Failures can be injected (`inject`) to test retries.

mod discovery;
mod merge;
pub mod real;
pub mod sim;
pub mod suite;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub type Key = (String, String, String); // (resource, namespace, name)

#[derive(Default)]
pub struct Inner {
    pub objects: BTreeMap<Key, Value>,
    rv: u64,
    denied: Vec<(String, String)>,
    injections: Vec<(String, String, u16, u32)>,
    /// Every request as "VERB resource name".
    pub requests: Vec<String>,
    /// Server-side apply field ownership: object -> field path -> manager.
    managed: BTreeMap<Key, BTreeMap<String, String>>,
    /// Namespaces that exist: a create elsewhere is 404, as on a real
    /// API server.
    pub namespaces: std::collections::BTreeSet<String>,
}

/// Leaf paths of an object's fields (arrays are leaves), skipping the
/// identifying ones that every request carries.
fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
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

fn at<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').skip(1).fold(v, |v, k| &v[k])
}

impl Inner {
    pub fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }
}

pub struct FakeKube {
    pub url: String,
    pub state: Arc<Mutex<Inner>>,
    pub sim: Arc<sim::Simulator>,
    dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
    sim_task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.server.abort();
        self.sim_task.abort();
        self.sim.stop_all();
    }
}

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
}

fn kind_of(resource: &str) -> &'static str {
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
fn in_group(group: &str, resource: &str, mut obj: Value) -> Value {
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
fn admit(resource: &str, obj: &mut Value) -> Result<(), String> {
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
    let verb = match (&req.method, &req.name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::GET, None) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, _) => "delete",
        _ => return status(405, "MethodNotAllowed", "method not allowed".into()),
    };
    let mut inner = fake.state.lock().unwrap();
    let shown_name = req.name.clone().unwrap_or_default();
    inner
        .requests
        .push(format!("{verb} {} {shown_name}", req.resource));
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
        .position(|(v, r, _, n)| v == verb && r == &req.resource && *n > 0)
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
            let rv = inner.next_rv();
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
            inner.objects.insert(key(&name), obj.clone());
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
            let owners = inner.managed.entry(key(&shown_name)).or_default();
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
            obj["metadata"]["resourceVersion"] = Value::String(inner.next_rv());
            obj["kind"] = old["kind"].clone();
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

async fn dispatch(
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
    match route(method, &segments) {
        Some(req) => handle(State(shared), req, query, headers, body).await,
        None => status(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        ),
    }
}

impl FakeKube {
    /// Starts the server and its rollout simulator. Pods log in to
    /// `database` when given.
    pub async fn start(database: Option<sim::Database>) -> FakeKube {
        seesaw::install_crypto_provider();
        let state = Arc::new(Mutex::new(Inner {
            namespaces: ["default", "shop", "ops"].map(String::from).into(),
            ..Default::default()
        }));
        let shared = Arc::new(Shared {
            state: state.clone(),
        });
        let app = Router::new()
            .route("/{*path}", any(dispatch))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let sim = Arc::new(sim::Simulator::new(state.clone(), database));
        let sim_task = tokio::spawn(sim.clone().run());
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeKube {
            url,
            state,
            sim,
            dir,
            server,
            sim_task,
        };
        std::fs::write(fake.kubeconfig(), fake.kubeconfig_text()).unwrap();
        fake
    }

    fn kubeconfig_text(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: seesaw\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: seesaw\n    namespace: default\ncurrent-context: fake\n",
            self.url
        )
    }

    /// A kubeconfig pointing at this server (context `fake`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn deny(&self, verb: &str, resource: &str) {
        self.state
            .lock()
            .unwrap()
            .denied
            .push((verb.into(), resource.into()));
    }

    pub fn allow_all(&self) {
        self.state.lock().unwrap().denied.clear();
    }

    /// The next `times` requests of `verb` on `resource` fail with `code`.
    pub fn inject(&self, verb: &str, resource: &str, code: u16, times: u32) {
        self.state
            .lock()
            .unwrap()
            .injections
            .push((verb.into(), resource.into(), code, times));
    }

    pub fn requests(&self, prefix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }

    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .get(&(resource.into(), namespace.into(), name.into()))
            .cloned()
    }

    pub fn list(&self, resource: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .iter()
            .filter(|((r, _, _), _)| r == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Writes an object directly, as another client would.
    pub fn put(&self, resource: &str, namespace: &str, mut obj: Value) {
        let mut inner = self.state.lock().unwrap();
        admit(resource, &mut obj).unwrap();
        let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
        obj["metadata"]["namespace"] = Value::String(namespace.into());
        obj["metadata"]["resourceVersion"] = Value::String(inner.next_rv());
        obj["kind"] = Value::String(kind_of(resource).into());
        if is_workload(resource) && obj["metadata"]["generation"].is_null() {
            obj["metadata"]["generation"] = json!(1);
        }
        inner
            .objects
            .insert((resource.into(), namespace.into(), name), obj);
    }

    /// A Secret's data, decoded.
    pub fn secret_data(&self, namespace: &str, name: &str) -> BTreeMap<String, String> {
        let secret = self.get("secrets", namespace, name).expect("secret exists");
        secret["data"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.as_str().unwrap())
                            .unwrap();
                        (k.clone(), String::from_utf8(bytes).unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A workload whose pods read `secret` through envFrom, as most
    /// applications consume database credentials.
    pub fn workload(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        replicas: i64,
        secret: Option<&str>,
    ) {
        let env_from = secret
            .map(|s| json!([{"secretRef": {"name": s}}]))
            .unwrap_or(json!([]));
        self.put(resource, namespace, json!({
            "apiVersion": "apps/v1",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "app:1", "envFrom": env_from}]}
                }
            }
        }));
    }
}
