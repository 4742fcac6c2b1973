//! The engine's commands (plan, rotate, set_standby, rollback): each
//! observes, asks `rotation` for a plan, and runs the plan's steps in order,
//! recording what each produces in the run's state for the next
//! (`RunState`).

use super::engine::{Engine, Purpose, RotateOptions};
use super::observed::Observed;
use super::outcome::{Outcome, RunState, Staged};
use super::report::{Report, StepRecord};
use crate::error::Error;
use crate::progress::{NoProgress, Progress};
use crate::rotation::{self, Action, Plan};
use crate::secret::Credential;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};

impl Engine {
    /// Observes and decides; changes nothing (the lock is released again).
    /// The plan as `rotate --dry-run` or `rollback --dry-run` would
    /// report it, with the same gates, `min_interval` included (an up to
    /// date target has no steps); unlike them, a blocked plan is a report
    /// too, so every gate is shown.
    pub async fn plan(&self, action: Action, options: RotateOptions) -> Result<Report, Error> {
        let purpose = match action {
            Action::Rotate => Purpose::Look,
            Action::Rollback => Purpose::Rollback,
        };
        let seen = self.observe(purpose, &NoProgress).await?;
        let plan = match action {
            Action::Rotate => rotation::rotate(&seen.observation, &self.policy(), options.force),
            Action::Rollback => rotation::rollback(&seen.observation),
        };
        let mut report = Report::new(&plan, true);
        report.standby_sessions = seen.observation.standby_in_use();
        report.preflight = seen.observation.writes();
        if action == Action::Rotate {
            if let Some(since) = self.recently_rotated(&seen, &options) {
                report.settle(since);
            }
        }
        seen.release().await;
        Ok(report)
    }

    /// Rotates the target: the standby gets a new password and becomes the
    /// active credential. With `min_interval`, a target rotated more
    /// recently than that is reported up to date and left alone.
    pub async fn rotate(
        &self,
        options: RotateOptions,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let Some(limit) = options.timeout else {
            return self.rotate_now(options, progress).await;
        };
        // Dropping the run at the deadline is what a crash there would do,
        // and the protocol resumes from any point.
        tokio::time::timeout(limit, self.rotate_now(options, progress))
            .await
            .unwrap_or_else(|_| {
                Err(self.on().interrupted(
                    "rotation_timeout",
                    format!(
                        "the rotation ran longer than rotation_timeout ({}) and was stopped",
                        crate::duration::format(limit)
                    ),
                ))
            })
    }

    async fn rotate_now(
        &self,
        options: RotateOptions,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let purpose = if options.dry_run {
            Purpose::Look
        } else {
            Purpose::Rotate
        };
        let mut seen = self.observe(purpose, progress).await?;
        let plan = rotation::rotate(&seen.observation, &self.policy(), options.force);
        let result = match self.recently_rotated(&seen, &options) {
            Some(since) => {
                let mut report = Report::new(&plan, options.dry_run);
                report.settle(since);
                Ok(report)
            }
            None => {
                let resumed = self.resumed(&seen, &plan, None);
                self.run(plan, &mut seen, options.dry_run, resumed, progress)
                    .await
            }
        };
        seen.release().await;
        result
    }

    /// "rotated 5s ago (min_interval 1h)" when the store's current version
    /// is younger than `min_interval` and no rotation is pending. Decided
    /// on what was read under the lock.
    fn recently_rotated(&self, seen: &Observed, options: &RotateOptions) -> Option<String> {
        let min = options.min_interval.filter(|m| !m.is_zero())?;
        if seen.state.pending.is_some() || !seen.observation.lock_acquired {
            return None;
        }
        let published = seen.state.published_at?;
        // Decided against the caller's "now" (the daemon's slot, so that
        // replicas working on one slot agree), told in real time.
        let now = options.now.unwrap_or_else(chrono::Utc::now);
        let age = (now - published).to_std().unwrap_or_default();
        let real = (chrono::Utc::now() - published)
            .to_std()
            .unwrap_or_default();
        (age < min).then(|| {
            format!(
                "rotated {} ago (min_interval {})",
                crate::duration::format(if real < Duration::from_secs(10) {
                    Duration::from_millis(real.as_millis() as u64)
                } else {
                    Duration::from_secs(real.as_secs())
                }),
                crate::duration::format(min)
            )
        })
    }

    /// The Lambda's `setSecret`: observe and decide exactly as a rotation
    /// does (lock, the current credential logs in, every gate), then give
    /// the standby the pending password (staged by `createSecret`).
    /// Proving it logs in is `testSecret`'s, the next invocation, and
    /// publishing `finishSecret`'s.
    pub async fn set_standby(
        &self,
        username: &str,
        password: SecretString,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let mut seen = self.observe(Purpose::Rotate, progress).await?;
        let result = self
            .set_standby_locked(&mut seen, username, password, progress)
            .await;
        seen.release().await;
        result
    }

    async fn set_standby_locked(
        &self,
        seen: &mut Observed,
        username: &str,
        password: SecretString,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let plan = rotation::set_standby(&seen.observation, &self.policy());
        if plan.to != username && !plan.is_blocked() {
            return Err(self.on().inconsistent(format!(
                "the pending version is for {username:?}, but the standby is {:?}; the \
                        secret's current version changed since createSecret. Remove the \
                            AWSPENDING stage and rotate again",
                plan.to
            )));
        }
        // createSecret staged it: resumed like any pending version, or, when
        // the store shows none readable for the standby, taken as chosen.
        let resumed = self
            .resumed(seen, &plan, Some(&password))
            .or_else(|| self.chosen(seen, &plan, &password));
        self.run(plan, seen, false, resumed, progress).await
    }

    /// Republishes the previous version after proving it still logs in.
    /// Needs only the previous credential: the current one may be broken.
    pub async fn rollback(&self, dry_run: bool, progress: &dyn Progress) -> Result<Report, Error> {
        let mut seen = self.observe(Purpose::Rollback, progress).await?;
        let plan = rotation::rollback(&seen.observation);
        let result = self.run(plan, &mut seen, dry_run, None, progress).await;
        seen.release().await;
        result
    }

    /// Runs `plan`'s steps in order, each over what the earlier ones left,
    /// starting from the pending version the run resumes (if any).
    async fn run(
        &self,
        plan: Plan,
        seen: &mut Observed,
        dry_run: bool,
        resumed: Option<Staged>,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        if plan.is_blocked() {
            let action = match plan.action {
                Action::Rotate => "rotation",
                Action::Rollback => "rollback",
            };
            let gates = plan.blockers().into_iter().cloned().collect();
            return Err(self
                .on()
                .blocked(action, gates, seen.observation.standby_in_use()));
        }
        let mut report = Report::new(&plan, dry_run);
        report.standby_sessions = seen.observation.standby_in_use();
        report.preflight = seen.observation.writes();
        for w in &report.preflight {
            if w.result == crate::rotation::Proof::Warning {
                tracing::warn!(target_name = %self.name(), "preflight: {}", w.describe());
            }
        }
        if dry_run {
            return Ok(report);
        }
        let started = Instant::now();
        let mut state = RunState::new(run_token(), resumed);
        for step in &plan.steps {
            progress.started(self.name(), step, &step.describe_in(plan.action));
            let t = Instant::now();
            let outcome = self.step(step, &plan, seen, &state, progress).await?;
            let elapsed = t.elapsed();
            let detail = outcome.detail();
            if let Outcome::Published { version, .. } = &outcome {
                report.new_version = Some(version.clone());
            }
            state.record(outcome);
            tracing::info!(
                target_name = %self.name(),
                step = step.name(),
                from = %plan.from,
                to = %plan.to,
                version = %plan.current_version,
                elapsed_ms = elapsed.as_millis() as u64,
                "{}", step.describe_in(plan.action)
            );
            report.steps.push(StepRecord::new(step, detail, elapsed));
            progress
                .finished(self.name(), step, elapsed)
                .map_err(|reason| self.on().interrupted(step.name(), reason))?;
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            target_name = %self.name(),
            action = ?plan.action,
            from = %plan.from,
            to = %plan.to,
            old_version = %plan.current_version,
            new_version = report.new_version.as_deref().unwrap_or(""),
            elapsed_ms = report.elapsed_ms,
            "done"
        );
        Ok(report)
    }

    /// The Lambda's password when the store holds no readable pending
    /// version for it (setSecret then sets what createSecret chose).
    fn chosen(&self, seen: &Observed, plan: &Plan, password: &SecretString) -> Option<Staged> {
        let credential = Credential::new(plan.to.clone(), password.clone());
        Some(Staged {
            document: self.complete(&seen.state.current.document.with_credential(&credential)),
            credential,
            version: String::new(),
        })
    }

    /// The pending version a rotation resumes: the store's, when it is for
    /// the standby the plan rotates to (a rollback resumes nothing).
    fn resumed(
        &self,
        seen: &Observed,
        plan: &Plan,
        password: Option<&SecretString>,
    ) -> Option<Staged> {
        if plan.action != Action::Rotate {
            return None;
        }
        let pending = seen.state.pending.as_ref()?;
        let credential = pending.document.credential().ok()?;
        if credential.username != plan.to {
            return None;
        }
        if let Some(p) = password {
            // The Lambda's createSecret chose it; the store must agree.
            if p.expose_secret() != credential.password.expose_secret() {
                return None;
            }
        }
        Some(Staged {
            credential,
            document: pending.document.clone(),
            version: pending.version.clone(),
        })
    }
}

/// 32 hex characters, as AWS's ClientRequestToken needs (32-64).
fn run_token() -> String {
    let bytes: [u8; 16] = crate::password::os_random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
