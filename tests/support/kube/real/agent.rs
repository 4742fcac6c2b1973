//! The pod agent: watches the namespace's Pods and, for each running pod,
//! keeps a session and logs in anew every 100 ms, counting the failures.

use super::super::sim::PodLife;
use super::kubelet::credential;
use super::{Database, RealKube};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, PodSpec, Secret};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOGIN_INTERVAL: Duration = Duration::from_millis(100);

/// Counts of the pods' logins.
#[derive(Default)]
pub struct Logins {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    /// "pod: user: error" for each failed login (the first 20).
    pub failures: Mutex<Vec<String>>,
    /// Pods with a login loop now.
    pub running: AtomicU64,
    /// Each pod's own successful logins and when its loop started, by uid;
    /// moved to `lived` when it stops.
    current: Mutex<HashMap<String, (std::time::Instant, Arc<AtomicU64>)>>,
    lived: Mutex<Vec<PodLife>>,
}

impl Logins {
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::SeqCst)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::SeqCst)
    }
    /// Every pod that had a login loop, gone or running: how long it ran
    /// and how often it logged in.
    pub fn pod_lives(&self) -> Vec<PodLife> {
        let mut all = self.lived.lock().unwrap().clone();
        all.extend(
            self.current
                .lock()
                .unwrap()
                .values()
                .map(|(t, ok)| PodLife {
                    ran: t.elapsed(),
                    ok: ok.load(Ordering::SeqCst),
                }),
        );
        all
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            f.push(what);
        }
    }
}

pub struct Agent {
    pub logins: Arc<Logins>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct PodLoop {
    uid: String,
    alive: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    pub fn start(kube: &RealKube, db: Database) -> Agent {
        let logins = Arc::new(Logins::default());
        let api: Api<Pod> = kube.api();
        let secrets: Api<Secret> = kube.api();
        let task = tokio::spawn(watch(api, secrets, db, logins.clone()));
        Agent { logins, task }
    }
}

async fn watch(api: Api<Pod>, secrets: Api<Secret>, db: Database, logins: Arc<Logins>) {
    let mut pods: HashMap<String, PodLoop> = HashMap::new();
    loop {
        // List, then watch from the list's resourceVersion; start over when
        // the watch ends or its version expired (410).
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("pod agent: list pods: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut rv = list.metadata.resource_version.clone().unwrap_or_default();
        let listed: Vec<String> = list
            .items
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        pods.retain(|uid, l| {
            let keep = listed.contains(uid);
            if !keep {
                stop(l, &logins);
            }
            keep
        });
        for pod in list.items {
            observe(&mut pods, pod, false, &secrets, &db, &logins);
        }
        let params = WatchParams::default().timeout(290);
        let stream = match api.watch(&params, &rv).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("pod agent: watch pods: {e}");
                continue;
            }
        };
        let mut stream = stream.boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            match event {
                WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                    rv = p.metadata.resource_version.clone().unwrap_or(rv);
                    observe(&mut pods, p, false, &secrets, &db, &logins);
                }
                WatchEvent::Deleted(p) => observe(&mut pods, p, true, &secrets, &db, &logins),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(_) => break,
            }
        }
    }
}

fn stop(l: &PodLoop, logins: &Logins) {
    if l.alive.swap(false, Ordering::SeqCst) {
        logins.running.fetch_sub(1, Ordering::SeqCst);
    }
    l.task.abort();
    if let Some((started, ok)) = logins.current.lock().unwrap().remove(&l.uid) {
        logins.lived.lock().unwrap().push(PodLife {
            ran: started.elapsed(),
            ok: ok.load(Ordering::SeqCst),
        });
    }
}

fn observe(
    pods: &mut HashMap<String, PodLoop>,
    pod: Pod,
    deleted: bool,
    secrets: &Api<Secret>,
    db: &Database,
    logins: &Arc<Logins>,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    // A pod being deleted is gone for the agent: kwok deletes with a grace
    // period of 0, so its process would be dead already.
    if deleted || pod.metadata.deletion_timestamp.is_some() {
        if let Some(l) = pods.remove(&uid) {
            stop(&l, logins);
        }
        return;
    }
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if !running || pods.contains_key(&uid) {
        return;
    }
    let alive = Arc::new(AtomicBool::new(true));
    logins.running.fetch_add(1, Ordering::SeqCst);
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let own = Arc::new(AtomicU64::new(0));
    logins
        .current
        .lock()
        .unwrap()
        .insert(uid.clone(), (std::time::Instant::now(), own.clone()));
    let task = tokio::spawn(pod_loop(
        name,
        spec,
        secrets.clone(),
        db.clone(),
        (logins.clone(), own),
        alive.clone(),
    ));
    pods.insert(uid.clone(), PodLoop { uid, alive, task });
}

async fn pod_loop(
    name: String,
    spec: PodSpec,
    secrets: Api<Secret>,
    db: Database,
    (logins, own): (Arc<Logins>, Arc<AtomicU64>),
    alive: Arc<AtomicBool>,
) {
    let (user, password) = match credential(&spec, &secrets).await {
        Ok(c) => c,
        Err(e) => {
            logins.fail(format!("{name}: cannot start: {e}"));
            return;
        }
    };
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(db.port)
        .user(&user)
        .password(&password)
        .dbname(&db.dbname)
        .application_name(&name)
        .connect_timeout(Duration::from_secs(5));
    let connect = || config.connect(tokio_postgres::NoTls);
    // The pool's long-lived session: it is what the standby-sessions gate
    // sees while this pod runs.
    let _pool = match connect().await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            Some(client)
        }
        Err(e) => {
            if alive.load(Ordering::SeqCst) {
                logins.fail(format!("{name}: {user}: {e}"));
            }
            None
        }
    };
    loop {
        if !alive.load(Ordering::SeqCst) {
            return;
        }
        match connect().await {
            Ok((client, conn)) => {
                let conn = tokio::spawn(conn);
                let worked = client.query_one("SELECT 1", &[]).await;
                drop(client);
                let _ = conn.await;
                match worked {
                    Ok(_) => {
                        logins.ok.fetch_add(1, Ordering::SeqCst);
                        own.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) if alive.load(Ordering::SeqCst) => {
                        logins.fail(format!("{name}: {user}: {e}"))
                    }
                    Err(_) => return,
                }
            }
            Err(e) if alive.load(Ordering::SeqCst) => logins.fail(format!("{name}: {user}: {e}")),
            Err(_) => return,
        }
        tokio::time::sleep(LOGIN_INTERVAL).await;
    }
}
