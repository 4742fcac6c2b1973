//! One target: its database, store, consumers and schedule, and the checks that tie them.

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Names the target in commands, logs, metrics and the advisory lock.
    pub name: String,
    pub database: DatabaseConfig,
    #[serde(default)]
    pub password: PasswordPolicy,
    pub store: StoreConfig,
    /// The Kubernetes Secrets that carry the credential and the workloads
    /// that read them.
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
    // The four schedule keys repeat ScheduleConfig's: `#[serde(flatten)]`
    // would switch off `deny_unknown_fields`, and a misspelt key must fail.
    /// When `seesaw run` rotates it (over `defaults:`): 5-field cron.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule`; UTC by default.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Rotation may start anywhere inside this window after each slot.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub window: Option<Duration>,
    /// Never rotate again sooner than this after the last publish.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub min_interval: Option<Duration>,
}

impl TargetConfig {
    /// This target's schedule settings over `defaults`.
    pub fn schedule_config(&self, defaults: &ScheduleConfig) -> ScheduleConfig {
        ScheduleConfig {
            schedule: self.schedule.clone(),
            timezone: self.timezone.clone(),
            window: self.window,
            min_interval: self.min_interval,
        }
        .or(defaults)
    }
}

pub(super) fn validate_target(t: &TargetConfig) -> Result<(), (&'static str, String)> {
    let name_ok = !t.name.is_empty()
        && t.name.len() <= 63
        && t.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return Err((
            "name",
            format!(
                "expected 1-63 characters of letters, digits, `-`, `_` or `.`, got {:?} (the \
                    name is used in metrics, locks and Kubernetes labels)",
                t.name
            ),
        ));
    }
    t.database.validate()?;
    t.password.validate().map_err(|m| ("password", m))?;
    if let Some(k) = &t.kubernetes {
        validate_kubernetes(k)?;
    }
    Ok(())
}
