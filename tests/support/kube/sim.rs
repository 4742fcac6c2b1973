//! The rollout simulator: pods for every Deployment, StatefulSet and
//! DaemonSet in the fake API server.
//!
//! When a pod template changes, pods are replaced one at a time with
//! maxSurge 1 and maxUnavailable 0: a new pod starts, and once it is ready
//! one old pod is removed. (Real StatefulSets and DaemonSets default to
//! replacing in place, one unavailable at a time; the surge model is
//! stricter about availability and the same for seesaw's purpose.) A
//! paused Deployment does not roll. DaemonSets run on 3 simulated nodes.
//!
//! Each pod reads its workload's Secret (the first `envFrom.secretRef`)
//! once, when it is created, as environment variables are, then logs in to
//! the real PostgreSQL in a loop with those credentials, counting the
//! logins that succeed and fail. A pod is ready once it has started and
//! (if it has a database) logged in once; a pod whose login fails never
//! becomes ready, like one with a readiness probe on the database.

use super::{is_workload, Inner, Key};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NODES: i64 = 3;
const TICK: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Database {
    pub port: u16,
    pub dbname: String,
}

struct Pod {
    template: u64,
    ready: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    /// This pod's own logins, and whether its login loop runs (it has a
    /// credential and a database).
    ok: Arc<AtomicU64>,
    logs_in: Arc<AtomicBool>,
    started: std::time::Instant,
    lived: Arc<Mutex<Vec<PodLife>>>,
}

/// A pod that logged in while it ran: how long it ran, how many logins
/// succeeded.
#[derive(Debug, Clone, Copy)]
pub struct PodLife {
    pub ran: Duration,
    pub ok: u64,
}

/// The floors a run with live pods must meet, so that an agent that lost
/// sight of pods fails: at least 20 pods logged in; every pod that ran
/// `long` or more logged in at least once per 400 ms (a quarter of its
/// 100 ms pace); and logins went on during every rotation (`per_round`:
/// the successful logins counted across each).
pub fn assert_pods_kept_logging_in(lives: &[PodLife], long: Duration, per_round: &[u64]) {
    assert!(lives.len() >= 20, "only {} pods logged in", lives.len());
    for life in lives.iter().filter(|l| l.ran >= long) {
        let floor = (life.ran.as_millis() / 400) as u64;
        assert!(
            life.ok >= floor,
            "a pod ran {:?} and logged in {} times",
            life.ran,
            life.ok
        );
    }
    assert!(
        per_round.iter().all(|n| *n > 0),
        "a rotation during which no pod logged in: {per_round:?}"
    );
}

impl Pod {
    fn life(&self) -> Option<PodLife> {
        self.logs_in.load(Ordering::SeqCst).then(|| PodLife {
            ran: self.started.elapsed(),
            ok: self.ok.load(Ordering::SeqCst),
        })
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(life) = self.life() {
            self.lived.lock().unwrap().push(life);
        }
    }
}

pub struct Simulator {
    state: Arc<Mutex<Inner>>,
    database: Option<Database>,
    /// How long a container takes to start.
    pub pod_start: Mutex<Duration>,
    /// Pause between a pod's logins.
    pub login_interval: Duration,
    pub logins_ok: Arc<AtomicU64>,
    pub logins_failed: Arc<AtomicU64>,
    pods: Mutex<BTreeMap<Key, Vec<Pod>>>,
    /// Every pod that logged in, once it is gone.
    lived: Arc<Mutex<Vec<PodLife>>>,
}

fn template_hash(template: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    template.to_string().hash(&mut h);
    h.finish()
}

impl Simulator {
    pub fn new(state: Arc<Mutex<Inner>>, database: Option<Database>) -> Self {
        Simulator {
            state,
            database,
            pod_start: Mutex::new(Duration::from_millis(50)),
            login_interval: Duration::from_millis(100),
            logins_ok: Arc::new(AtomicU64::new(0)),
            logins_failed: Arc::new(AtomicU64::new(0)),
            pods: Mutex::new(BTreeMap::new()),
            lived: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn set_pod_start(&self, d: Duration) {
        *self.pod_start.lock().unwrap() = d;
    }

    pub fn failed_logins(&self) -> u64 {
        self.logins_failed.load(Ordering::SeqCst)
    }

    /// Every pod that had a credential, gone or running: how long it ran
    /// and how often it logged in.
    pub fn pod_lives(&self) -> Vec<PodLife> {
        let mut all = self.lived.lock().unwrap().clone();
        let pods = self.pods.lock().unwrap();
        all.extend(pods.values().flatten().filter_map(Pod::life));
        all
    }

    pub fn ok_logins(&self) -> u64 {
        self.logins_ok.load(Ordering::SeqCst)
    }

    pub fn stop_all(&self) {
        self.pods.lock().unwrap().clear();
    }

    pub async fn run(self: Arc<Self>) {
        loop {
            self.tick();
            tokio::time::sleep(TICK).await;
        }
    }

    /// The credentials a new pod of `obj` gets, read now as the kubelet
    /// reads them at container start: `envFrom` Secrets, env
    /// `secretKeyRef`s and mounted Secret volumes, of every container
    /// (names `username`/`PGUSER`, `password`/`PGPASSWORD`). `None`: the
    /// pod reads no Secret; `Some(None)`: a Secret it reads is missing, so
    /// its container cannot start.
    fn credentials(
        inner: &Inner,
        namespace: &str,
        obj: &Value,
    ) -> Option<Option<(String, String)>> {
        let spec = &obj["spec"]["template"]["spec"];
        let read = |name: &str| -> Option<BTreeMap<String, String>> {
            let secret = inner
                .objects
                .get(&("secrets".into(), namespace.into(), name.into()))?;
            let data = secret["data"].as_object().cloned().unwrap_or_default();
            Some(
                data.into_iter()
                    .filter_map(|(k, v)| {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.as_str()?)
                            .ok()?;
                        Some((k, String::from_utf8(bytes).ok()?))
                    })
                    .collect(),
            )
        };
        let mut seen = BTreeMap::new();
        let mut reads_any = false;
        let empty = Vec::new();
        let list = |v: &Value| v.as_array().unwrap_or(&empty).clone();
        for c in list(&spec["containers"]) {
            for e in list(&c["envFrom"]) {
                if let Some(name) = e["secretRef"]["name"].as_str() {
                    reads_any = true;
                    let prefix = e["prefix"].as_str().unwrap_or_default();
                    let Some(data) = read(name) else {
                        return Some(None);
                    };
                    for (k, v) in data {
                        seen.insert(format!("{prefix}{k}"), v);
                    }
                }
            }
            for e in list(&c["env"]) {
                let r = &e["valueFrom"]["secretKeyRef"];
                if let (Some(env), Some(name), Some(key)) =
                    (e["name"].as_str(), r["name"].as_str(), r["key"].as_str())
                {
                    reads_any = true;
                    let Some(v) = read(name).and_then(|d| d.get(key).cloned()) else {
                        return Some(None);
                    };
                    seen.insert(env.to_owned(), v);
                }
            }
            for m in list(&c["volumeMounts"]) {
                let volume = list(&spec["volumes"])
                    .into_iter()
                    .find(|v| v["name"] == m["name"]);
                if let Some(name) = volume
                    .as_ref()
                    .and_then(|v| v["secret"]["secretName"].as_str())
                {
                    reads_any = true;
                    let Some(data) = read(name) else {
                        return Some(None);
                    };
                    seen.extend(data);
                }
            }
        }
        if !reads_any {
            return None;
        }
        let pick = |names: [&str; 2]| names.iter().find_map(|n| seen.get(*n).cloned());
        Some(pick(["username", "PGUSER"]).zip(pick(["password", "PGPASSWORD"])))
    }

    fn start_pod(&self, template: u64, credentials: Option<Option<(String, String)>>) -> Pod {
        let ready = Arc::new(AtomicBool::new(false));
        let own = Arc::new(AtomicU64::new(0));
        let logs_in = Arc::new(AtomicBool::new(false));
        let start = *self.pod_start.lock().unwrap();
        let db = self.database.clone();
        let (ok, failed, interval, flag) = (
            self.logins_ok.clone(),
            self.logins_failed.clone(),
            self.login_interval,
            ready.clone(),
        );
        let (mine, looping) = (own.clone(), logs_in.clone());
        let task = tokio::spawn(async move {
            tokio::time::sleep(start).await;
            let ((user, password), db) = match (credentials, db) {
                (Some(Some(c)), Some(db)) => (c, db),
                (Some(None), _) => return, // no Secret: the container never starts
                _ => {
                    flag.store(true, Ordering::SeqCst);
                    return;
                }
            };
            looping.store(true, Ordering::SeqCst);
            loop {
                let login = tokio_postgres::Config::new()
                    .host("127.0.0.1")
                    .port(db.port)
                    .user(&user)
                    .password(&password)
                    .dbname(&db.dbname)
                    .connect_timeout(Duration::from_secs(5))
                    .connect(tokio_postgres::NoTls)
                    .await;
                match login {
                    Ok((client, conn)) => {
                        let conn = tokio::spawn(conn);
                        let worked = client.query_one("SELECT 1", &[]).await.is_ok();
                        drop(client);
                        let _ = conn.await;
                        if worked {
                            ok.fetch_add(1, Ordering::SeqCst);
                            mine.fetch_add(1, Ordering::SeqCst);
                            flag.store(true, Ordering::SeqCst);
                        } else {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
        Pod {
            template,
            ready,
            task,
            ok: own,
            logs_in,
            started: std::time::Instant::now(),
            lived: self.lived.clone(),
        }
    }

    fn tick(&self) {
        let mut inner = self.state.lock().unwrap();
        let mut pods = self.pods.lock().unwrap();
        let workloads: Vec<(Key, Value)> = inner
            .objects
            .iter()
            .filter(|((r, _, _), _)| is_workload(r))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pods.retain(|k, _| workloads.iter().any(|(w, _)| w == k));
        for (key, obj) in workloads {
            let (resource, namespace, _) = &key;
            let desired = if resource == "daemonsets" {
                NODES
            } else {
                obj["spec"]["replicas"].as_i64().unwrap_or(1)
            };
            let template = template_hash(&obj["spec"]["template"]);
            let paused = obj["spec"]["paused"].as_bool().unwrap_or(false);
            let list = pods.entry(key.clone()).or_default();
            if !paused {
                let new_ready = list
                    .iter()
                    .filter(|p| p.template == template)
                    .all(|p| p.ready.load(Ordering::SeqCst));
                let new = list.iter().filter(|p| p.template == template).count() as i64;
                let old = list.len() as i64 - new;
                if new_ready {
                    if old > 0 && new + old > desired {
                        // The surge pod is ready: retire one old pod.
                        let i = list.iter().position(|p| p.template != template).unwrap();
                        list.remove(i);
                    } else if new < desired {
                        let creds = Self::credentials(&inner, namespace, &obj);
                        list.push(self.start_pod(template, creds));
                    } else if new > desired {
                        list.pop();
                    }
                }
            }
            let total = list.len() as i64;
            let updated = list.iter().filter(|p| p.template == template).count() as i64;
            let ready = list
                .iter()
                .filter(|p| p.ready.load(Ordering::SeqCst))
                .count() as i64;
            let generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
            let revision = |h: u64| format!("{}-{:x}", key.2, h % 0xffffff);
            let old_template = list
                .iter()
                .find(|p| p.template != template)
                .map(|p| p.template)
                .unwrap_or(template);
            let status = match resource.as_str() {
                "deployments" => json!({
                    "observedGeneration": generation, "replicas": total, "updatedReplicas": updated,
                    "readyReplicas": ready, "availableReplicas": ready,
                    "unavailableReplicas": (desired - ready).max(0),
                }),
                "statefulsets" => json!({
                    "observedGeneration": generation, "replicas": total, "updatedReplicas": updated,
                    "readyReplicas": ready, "availableReplicas": ready, "currentReplicas": total - updated,
                    "currentRevision": revision(if updated == total && total == desired { template } else { old_template }),
                    "updateRevision": revision(template),
                }),
                _ => json!({
                    "observedGeneration": generation, "desiredNumberScheduled": desired,
                    "currentNumberScheduled": total, "updatedNumberScheduled": updated,
                    "numberReady": ready, "numberAvailable": ready, "numberMisscheduled": 0,
                }),
            };
            if obj["status"] != status {
                let rv = inner.next_rv();
                if let Some(stored) = inner.objects.get_mut(&key) {
                    stored["status"] = status;
                    stored["metadata"]["resourceVersion"] = Value::String(rv);
                }
            }
        }
    }
}
