//! `seesaw run`'s settings: schedules, concurrency, retries, HTTP, leader election.

use super::*;

pub(super) fn default_rotation_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}

#[derive(Debug, Clone, Default)]
pub struct DaemonConfig {
    /// Schedule settings for targets that do not set their own.
    pub defaults: ScheduleConfig,
    pub concurrency: Concurrency,
    pub retry: RetryConfig,
    pub http: HttpConfig,
    pub leader_election: LeaderElection,
    /// How long a rotation in flight may take to reach the end of its
    /// current step after SIGTERM.
    pub shutdown_timeout: Duration,
    /// The longest one rotation (or rollback) may run, rollout waits
    /// included, in every mode; past it the run stops where it is (the
    /// next run resumes) and the daemon reports it.
    pub rotation_timeout: Duration,
}

pub(super) fn default_shutdown() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// 5-field cron: minute hour day-of-month month day-of-week.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of the cron expression; UTC by default.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Rotation may start anywhere inside this window after each slot.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub window: Option<Duration>,
    /// Never rotate again sooner than this after the last publish.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub min_interval: Option<Duration>,
}

impl ScheduleConfig {
    /// This target's settings over the defaults.
    pub fn or(&self, defaults: &ScheduleConfig) -> ScheduleConfig {
        ScheduleConfig {
            schedule: self.schedule.clone().or_else(|| defaults.schedule.clone()),
            timezone: self.timezone.clone().or_else(|| defaults.timezone.clone()),
            window: self.window.or(defaults.window),
            min_interval: self.min_interval.or(defaults.min_interval),
        }
    }

    /// The schedule, or `None` when no cron expression is set.
    pub fn build(&self) -> Result<Option<crate::schedule::Schedule>, (&'static str, String)> {
        let Some(cron) = &self.schedule else {
            return Ok(None);
        };
        crate::schedule::Schedule::parse(
            cron,
            self.timezone.as_deref().unwrap_or("UTC"),
            self.window.unwrap_or_default(),
            self.min_interval.unwrap_or_default(),
        )
        .map(Some)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    /// Rotations in flight at once, over all targets.
    #[serde(default = "default_rotations")]
    pub rotations: usize,
    /// Kubernetes syncs (Secret patches, restarts, rollout waits) at once.
    #[serde(default = "default_rollouts")]
    pub rollouts: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            rotations: default_rotations(),
            rollouts: default_rollouts(),
        }
    }
}
fn default_rotations() -> usize {
    4
}
fn default_rollouts() -> usize {
    4
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Tries of a transient failure (unreachable database, throttled store,
    /// 409, timeout) before waiting for the next slot.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    #[serde(
        default = "default_backoff",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub initial_backoff: Duration,
    #[serde(
        default = "default_max_backoff",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub max_backoff: Duration,
    /// A blocked gate is retried this often until the next slot, because a
    /// rollout that just finished unblocks it.
    #[serde(
        default = "default_blocked",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub blocked: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: default_attempts(),
            initial_backoff: default_backoff(),
            max_backoff: default_max_backoff(),
            blocked: default_blocked(),
        }
    }
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> Duration {
    Duration::from_secs(2)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(120)
}
fn default_blocked() -> Duration {
    Duration::from_secs(300)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// /healthz, /readyz and /metrics.
    #[serde(default = "default_http")]
    pub address: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            address: default_http(),
        }
    }
}
fn default_http() -> String {
    "0.0.0.0:8080".into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LeaderElection {
    /// `auto` (default): elect a leader through a Lease when running in a
    /// cluster; `true`: always (needs Kubernetes); `false`: never, this
    /// process rotates (one replica only).
    #[serde(default)]
    pub enabled: LeaderMode,
    /// Lease name; `seesaw` by default.
    #[serde(default)]
    pub lease: Option<String>,
    /// Lease namespace; the pod's own namespace by default.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Lease duration: how long a dead leader blocks a new one.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub duration: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LeaderMode {
    #[default]
    Auto,
    #[serde(alias = "true")]
    Always,
    #[serde(alias = "false")]
    Never,
}
