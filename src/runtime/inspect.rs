//! Read-only views of a target: `status` and `check`.

use super::engine::Engine;
use super::report::{CheckReport, Status};
use crate::rotation::{self, Verdict};
use crate::secret::Credential;

impl Engine {
    /// What the store says and how the standby is used. Never fails: what
    /// cannot be read is listed under `problems`.
    pub async fn status(&self) -> Status {
        let mut status = Status::unknown(self.name());
        let (state, current) = match self.read_store(true).await {
            Ok(found) => found,
            Err(e) => {
                status.problems.push(e.to_string());
                return status;
            }
        };
        let standby = rotation::standby_of(&self.config.database.users, &current.username);
        status.active = Some(current.username.clone());
        status.version = Some(state.current.version.clone());
        status.standby = Some(standby.to_owned());
        if let Some(p) = &state.previous {
            status.previous = p.document.username().ok().map(str::to_owned);
            status.previous_version = Some(p.version.clone());
        }
        let watcher = async {
            match self.standby_watcher(&state, standby).await? {
                Some(session) => Ok(session),
                None => self.control_session(&current).await,
            }
        };
        match watcher.await {
            Ok(mut session) => match self.standby_in_use(&mut session, standby).await {
                Ok(n) => status.standby_sessions = Some(n),
                Err(e) => status
                    .problems
                    .push(format!("count sessions of {standby:?}: {e}")),
            },
            Err(e) => status.problems.push(e.to_string()),
        }
        status
    }

    /// Validates connectivity and the gates a rotation would meet, changing
    /// nothing. `ok` is false when a rotation would fail or be blocked.
    pub async fn check(&self) -> CheckReport {
        let mut report = CheckReport {
            target: self.name().into(),
            ok: false,
            store: self.backends.store.describe(),
            database: self.backends.database.describe(),
            active: None,
            gates: Vec::new(),
            error: None,
            warnings: Vec::new(),
            preflight: Vec::new(),
        };
        // Side by side: a silent server costs one timeout, not two.
        let (warning, seen) = tokio::join!(
            self.passwords_unchecked(),
            self.observe(super::engine::Purpose::Look, &crate::progress::NoProgress)
        );
        report.warnings.extend(warning);
        match seen {
            Ok(seen) => {
                let plan = rotation::rotate(&seen.observation, &self.policy(), false);
                report.active = Some(plan.from.clone());
                // Standby sessions under `fail` are a state of the moment,
                // not a misconfiguration; they still count against `ok`
                // because a rotation now would be blocked.
                report.ok = !plan
                    .gates
                    .iter()
                    .any(|g| matches!(g.verdict, Verdict::Blocked | Verdict::Impossible));
                report.gates = plan.gates;
                report.preflight = seen.observation.writes();
                seen.release().await;
            }
            Err(e) => report.error = Some(e.to_string()),
        }
        report
    }

    /// A warning when the server lets the active user in with a wrong
    /// password (`trust` in pg_hba.conf for this host): verifying a new
    /// password then proves nothing, and anyone who reaches the server can
    /// log in as either user. One login attempt with a random password;
    /// anything but a success says nothing and warns of nothing.
    pub async fn passwords_unchecked(&self) -> Option<String> {
        let (_, current) = self.read_store(false).await.ok()?;
        let wrong = Credential::new(current.username.clone(), self.config.password.generate());
        let mut session = self.backends.database.login(&wrong).await.ok()?;
        session.probe().await.ok()?;
        let warning = format!(
            "{}: {:?} logs in with a wrong password: the server does not check passwords for it \
                from here (pg_hba.conf `trust`?). Verifying a new password proves nothing, and \
                    anyone who reaches the server can log in as either user; use scram-sha-256",
            self.backends.database.describe(),
            current.username
        );
        Some(warning)
    }
}
