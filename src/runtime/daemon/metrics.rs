//! The daemon's Prometheus metrics. Labels are target names and fixed
//! words, never error text (unbounded, and it could carry a secret).

use crate::rotation::GateName;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabel {
    pub target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub target: String,
    /// success | failure | blocked
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub target: String,
    /// A step's fixed name (`rotation::Step::name`).
    pub step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GateLabels {
    pub target: String,
    /// A gate's fixed name: standby_sessions, rollouts, memberships, lock, ...
    pub reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    rotations: Family<ResultLabels, Counter>,
    duration: Histogram,
    last_success: Family<TargetLabel, Gauge<f64, AtomicU64>>,
    next_rotation: Family<TargetLabel, Gauge<f64, AtomicU64>>,
    gate_blocked: Family<GateLabels, Gauge>,
    standby_sessions: Family<TargetLabel, Gauge>,
    leader: Gauge,
    step: Family<StepLabels, Gauge>,
    running_since: Family<TargetLabel, Gauge<f64, AtomicU64>>,
    preflight_denied: Family<TargetLabel, Gauge>,
    deadline: Family<TargetLabel, Gauge<f64, AtomicU64>>,
    config_loaded: Gauge,
    rotation_timeout: Gauge<f64, AtomicU64>,
    /// The running config's targets: a reload drops the series of the
    /// targets it removed, so no alert fires for a target that is gone.
    targets: Mutex<Vec<String>>,
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("seesaw");
        let rotations = Family::<ResultLabels, Counter>::default();
        registry.register("rotations", "Rotations by outcome", rotations.clone());
        let duration = Histogram::new([
            0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
        ]);
        registry.register(
            "rotation_duration_seconds",
            "Duration of rotations, rollout waits included",
            duration.clone(),
        );
        let last_success = Family::<TargetLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When the target last rotated successfully",
            last_success.clone(),
        );
        let next_rotation = Family::<TargetLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "next_rotation_timestamp_seconds",
            "When the target is due next",
            next_rotation.clone(),
        );
        let gate_blocked = Family::<GateLabels, Gauge>::default();
        registry.register(
            "gate_blocked",
            "1 while a gate blocks the target's rotation",
            gate_blocked.clone(),
        );
        let standby_sessions = Family::<TargetLabel, Gauge>::default();
        registry.register(
            "standby_sessions",
            "Sessions of the standby user at the last attempt",
            standby_sessions.clone(),
        );
        let step = Family::<StepLabels, Gauge>::default();
        registry.register(
            "rotation_step",
            "1 for the step a running rotation is in",
            step.clone(),
        );
        let running_since = Family::<TargetLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "rotation_started_timestamp_seconds",
            "When the running rotation started; 0 when none runs",
            running_since.clone(),
        );
        let preflight_denied = Family::<TargetLabel, Gauge>::default();
        registry.register(
            "preflight_denied_writes",
            "Writes to the consumers a rotation would make that the API server refuses \
                (preflight at start, reload and each rotation)",
            preflight_denied.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 when this process is the leader",
            leader.clone(),
        );
        let deadline = Family::<TargetLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "rotation_deadline_timestamp_seconds",
            "When the target is overdue: the first due time after the store's last publish, \
                plus the window",
            deadline.clone(),
        );
        let config_loaded = Gauge::default();
        registry.register(
            "config_last_reload_successful",
            "1 when the config file last loaded; 0 while a changed one is rejected and the \
                previous one runs",
            config_loaded.clone(),
        );
        let rotation_timeout = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "rotation_timeout_seconds",
            "The running config's rotation_timeout",
            rotation_timeout.clone(),
        );
        Metrics {
            registry,
            rotations,
            duration,
            last_success,
            next_rotation,
            gate_blocked,
            standby_sessions,
            leader,
            step,
            running_since,
            preflight_denied,
            deadline,
            config_loaded,
            rotation_timeout,
            targets: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn target(t: &str) -> TargetLabel {
        TargetLabel { target: t.into() }
    }

    pub fn outcome(&self, target: &str, result: &'static str, took: Duration) {
        self.rotations
            .get_or_create(&ResultLabels {
                target: target.into(),
                result,
            })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }

    pub fn success(&self, target: &str, at: DateTime<Utc>, sessions: u64) {
        self.last_success
            .get_or_create(&Self::target(target))
            .set(seconds(at));
        self.standby_sessions(target, sessions);
        self.clear_blocked(target);
    }

    /// The standby's sessions as last counted (a rotation, or a gate that
    /// blocked one).
    pub fn standby_sessions(&self, target: &str, sessions: u64) {
        self.standby_sessions
            .get_or_create(&Self::target(target))
            .set(sessions as i64);
    }

    pub fn blocked(&self, target: &str, reasons: &[GateName]) {
        self.clear_blocked(target);
        for reason in reasons {
            self.gate_blocked
                .get_or_create(&GateLabels {
                    target: target.into(),
                    reason: reason.as_str(),
                })
                .set(1);
        }
    }

    /// Every gate reads 0 again (one that never blocked is not listed).
    fn clear_blocked(&self, target: &str) {
        for reason in GateName::ALL {
            let labels = GateLabels {
                target: target.into(),
                reason: reason.as_str(),
            };
            if self.gate_blocked.get(&labels).is_some() {
                self.gate_blocked.get_or_create(&labels).set(0);
            }
        }
    }

    pub fn next_rotation(&self, target: &str, at: DateTime<Utc>) {
        self.next_rotation
            .get_or_create(&Self::target(target))
            .set(seconds(at));
        // A scheduled target's outcome counters exist from 0: increase()
        // cannot see the first failure of a series that is born at 1.
        for result in RESULTS {
            let _ = self.rotations.get_or_create(&ResultLabels {
                target: target.into(),
                result,
            });
        }
    }

    /// The target is overdue once `window` has passed after `due`, the first
    /// due time after its last publish.
    pub fn deadline(&self, target: &str, due: DateTime<Utc>, window: Duration) {
        self.deadline
            .get_or_create(&Self::target(target))
            .set(seconds(due) + window.as_secs_f64());
    }

    /// A config loaded (at start or by a reload): its rotation_timeout, and
    /// the series of targets it no longer has removed.
    pub fn config_loaded(&self, rotation_timeout: Duration, targets: Vec<String>) {
        self.config_loaded.set(1);
        self.rotation_timeout.set(rotation_timeout.as_secs_f64());
        let mut running = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        for gone in running.iter().filter(|t| !targets.contains(t)) {
            self.forget(gone);
        }
        *running = targets;
    }

    /// A changed config did not load; the previous one keeps running.
    pub fn config_rejected(&self) {
        self.config_loaded.set(0);
    }

    fn forget(&self, target: &str) {
        let label = Self::target(target);
        for family in [
            &self.last_success,
            &self.next_rotation,
            &self.running_since,
            &self.deadline,
        ] {
            family.remove(&label);
        }
        self.standby_sessions.remove(&label);
        self.preflight_denied.remove(&label);
        for result in RESULTS {
            self.rotations.remove(&ResultLabels {
                target: target.into(),
                result,
            });
        }
        for reason in GateName::ALL {
            self.gate_blocked.remove(&GateLabels {
                target: target.into(),
                reason: reason.as_str(),
            });
        }
        for step in STEPS {
            self.step.remove(&StepLabels {
                target: target.into(),
                step,
            });
        }
    }

    /// The step a rotation of `target` is in; `None` when it ended.
    pub fn step(&self, target: &str, step: Option<&'static str>) {
        let since = self.running_since.get_or_create(&Self::target(target));
        match step {
            Some(_) if since.get() == 0.0 => {
                since.set(seconds(Utc::now()));
            }
            None => {
                since.set(0.0);
            }
            Some(_) => {}
        }
        for name in STEPS {
            let labels = StepLabels {
                target: target.into(),
                step: name,
            };
            if Some(name) == step {
                self.step.get_or_create(&labels).set(1);
            } else if self.step.get(&labels).is_some() {
                self.step.get_or_create(&labels).set(0);
            }
        }
    }

    pub fn preflight_denied(&self, target: &str, writes: usize) {
        self.preflight_denied
            .get_or_create(&Self::target(target))
            .set(writes as i64);
    }

    pub fn leader(&self, is: bool) {
        self.leader.set(is as i64);
    }
}

/// Every outcome `outcome` counts.
const RESULTS: [&str; 3] = ["success", "failure", "blocked"];

/// Every step name (`rotation::Step::name`).
const STEPS: [&str; 9] = [
    "wait_for_sessions",
    "terminate_sessions",
    "grant_membership",
    "revoke_membership",
    "stage",
    "set_password",
    "verify",
    "publish",
    "propagate",
];
