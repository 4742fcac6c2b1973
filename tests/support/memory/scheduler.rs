//! The scheduler that interleaves runs call by call, with a crash or a
//! lost lock injected at one call.

use super::World;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Interleaves runs: before each backend call a run waits until the
/// script names it (a run that finished no longer takes turns). A run may
/// be made to fail at one of its calls (a crash), or to lose its sessions
/// there (a lost lock).
pub struct Scheduler {
    state: Mutex<Sched>,
    notify: tokio::sync::Notify,
    pub world: Arc<Mutex<World>>,
}

#[derive(Default)]
struct Sched {
    script: Vec<usize>,
    at: usize,
    finished: BTreeSet<usize>,
    calls: HashMap<usize, usize>,
    /// (run, call number, what): what = "crash" | "lose_lock"
    fault: Option<(usize, usize, &'static str)>,
}

impl Scheduler {
    pub fn new(
        script: Vec<usize>,
        fault: Option<(usize, usize, &'static str)>,
        world: Arc<Mutex<World>>,
    ) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            state: Mutex::new(Sched {
                script,
                fault,
                ..Default::default()
            }),
            notify: tokio::sync::Notify::new(),
            world,
        })
    }

    pub fn finish(&self, run: usize) {
        self.state.lock().unwrap().finished.insert(run);
        self.notify.notify_waiters();
    }

    pub(super) async fn turn(&self, run: usize) -> Result<(), String> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().unwrap();
                // Whose turn: the script's next entry, skipping runs that
                // finished; past the end of the script, anyone's.
                while s.at < s.script.len() && s.finished.contains(&s.script[s.at]) {
                    s.at += 1;
                }
                let mine = s.at >= s.script.len() || s.script[s.at] == run;
                if mine {
                    s.at += 1;
                    let n = {
                        let c = s.calls.entry(run).or_default();
                        *c += 1;
                        *c
                    };
                    let fault = s.fault.filter(|(r, k, _)| *r == run && *k == n);
                    drop(s);
                    self.notify.notify_waiters();
                    match fault.map(|f| f.2) {
                        Some("crash") => return Err(format!("crash injected at call {n}")),
                        Some(_) => {
                            let mut w = self.world.lock().unwrap();
                            for id in w.sessions_of_run.get(&run).cloned().unwrap_or_default() {
                                w.kill(id);
                            }
                        }
                        None => {}
                    }
                    return Ok(());
                }
            }
            notified.await;
        }
    }
}
