//! What commands print: reports of rotations, status and checks, as data
//! that renders to text or JSON. None of them holds a secret.

use crate::rotation::{Action, Gate, Plan, Step, WriteCheck};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub step: Step,
    pub detail: String,
    pub elapsed_ms: u64,
}

impl StepRecord {
    pub fn new(step: &Step, detail: String, elapsed: Duration) -> Self {
        StepRecord {
            step: step.clone(),
            detail,
            elapsed_ms: elapsed.as_millis() as u64,
        }
    }
}

/// The version of [`Report`]'s JSON/YAML shape (docs/output.md): a field
/// is only ever added within a version.
pub const REPORT_SCHEMA: &str = "seesaw.report/v1";

/// The result of a rotation or rollback, or of its plan (`plan`, and
/// `rotate --dry-run`: `dry_run` true, the steps in `planned`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub target: String,
    pub action: Action,
    pub dry_run: bool,
    pub from: String,
    pub to: String,
    pub old_version: String,
    pub new_version: Option<String>,
    pub gates: Vec<Gate>,
    /// Under a dry run, the steps that would run.
    pub planned: Vec<Step>,
    pub steps: Vec<StepRecord>,
    pub elapsed_ms: u64,
    /// Sessions of the standby when it was observed.
    pub standby_sessions: u64,
    /// Each write to the consumers, tried without effect before the
    /// first change (empty without consumers).
    pub preflight: Vec<WriteCheck>,
    /// Set when nothing was done because the target was rotated recently
    /// (`min_interval`): "rotated 5s ago (min_interval 1h)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_date: Option<String>,
}

impl Report {
    /// Nothing to do: the target was rotated within `min_interval`. Its
    /// active user stays active, and no step runs.
    pub fn settle(&mut self, since: String) {
        self.planned.clear();
        self.to = self.from.clone();
        self.up_to_date = Some(since);
    }

    /// A gate stops it (and it is not simply up to date): the command it
    /// previews would exit 3.
    pub fn is_blocked(&self) -> bool {
        self.up_to_date.is_none()
            && self.gates.iter().any(|g| {
                matches!(
                    g.verdict,
                    crate::rotation::Verdict::Blocked | crate::rotation::Verdict::Impossible
                )
            })
    }

    pub fn new(plan: &Plan, dry_run: bool) -> Self {
        Report {
            schema: REPORT_SCHEMA,
            target: plan.target.clone(),
            action: plan.action,
            dry_run,
            from: plan.from.clone(),
            to: plan.to.clone(),
            old_version: plan.current_version.clone(),
            new_version: None,
            gates: plan.gates.clone(),
            planned: plan.steps.clone(),
            steps: Vec::new(),
            elapsed_ms: 0,
            standby_sessions: 0,
            preflight: Vec::new(),
            up_to_date: None,
        }
    }
}

/// `seesaw status` for one target.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub target: String,
    pub active: Option<String>,
    pub version: Option<String>,
    pub previous: Option<String>,
    pub previous_version: Option<String>,
    pub standby: Option<String>,
    pub standby_sessions: Option<u64>,
    /// When `seesaw run` rotates it next (with a schedule).
    pub next_due: Option<String>,
    /// Whatever could not be read, as messages.
    pub problems: Vec<String>,
}

impl Status {
    /// A target about which nothing has been read yet.
    pub fn unknown(target: &str) -> Status {
        Status {
            target: target.into(),
            active: None,
            version: None,
            previous: None,
            previous_version: None,
            standby: None,
            standby_sessions: None,
            next_due: None,
            problems: Vec::new(),
        }
    }
}

/// `seesaw check` for one target.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub target: String,
    pub ok: bool,
    pub store: String,
    pub database: String,
    pub active: Option<String>,
    pub gates: Vec<Gate>,
    pub error: Option<String>,
    /// What works but should not be so (passwords not checked).
    pub warnings: Vec<String>,
    /// Each write a rotation would make to the consumers, tried without
    /// effect.
    pub preflight: Vec<WriteCheck>,
}
