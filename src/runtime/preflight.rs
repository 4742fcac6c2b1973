//! The consumers' part of observing (steps 2 and 3): the preflight, which
//! tries every write the run will make to them without effect, and the
//! heal, which brings them to the store's current version first.

use super::engine::{Engine, Purpose};
use crate::consumers::{Consumers, SyncReason};
use crate::error::Error;
use crate::progress::Progress;
use crate::rotation::{ConsumerView, Proof, WriteCheck};
use crate::secret::Credential;
use crate::store::StoreState;

impl Engine {
    /// The writes a run of `purpose` will make to the consumers, each tried
    /// without effect; `None` when the target has no consumers. A rotation
    /// writes the standby's credential (the password is made up here: the
    /// request is the same but for it); a rollback the previous document.
    pub(super) async fn preflight(
        &self,
        purpose: Purpose,
        state: &StoreState,
        standby: &str,
    ) -> Result<Option<Vec<WriteCheck>>, Error> {
        let Some(consumers) = &self.backends.consumers else {
            return Ok(None);
        };
        let (document, version) = match (purpose, &state.previous) {
            (Purpose::Rollback, None) => return Ok(Some(Vec::new())),
            (Purpose::Rollback, Some(previous)) => (&previous.document, &previous.version),
            _ => (&state.current.document, &state.current.version),
        };
        let document = match purpose {
            Purpose::Rollback => self.complete(document),
            _ => self.complete(&document.with_credential(&Credential::new(
                standby.to_owned(),
                self.config.password.generate(),
            ))),
        };
        consumers
            .preflight(self.name(), &document, version)
            .await
            .map(Some)
            .map_err(|source| {
                self.on().consumers(
                    "try the writes to the consumers without effect (preflight)".into(),
                    source,
                )
            })
    }

    /// The preflight alone, as a rotation started now would meet it: for
    /// the daemon at start and at each reload. Reads the store; never logs
    /// in to the database. Empty without consumers.
    pub async fn preflight_consumers(&self) -> Result<Vec<WriteCheck>, Error> {
        let (state, current) = self.read_store(false).await?;
        let standby = crate::rotation::standby_of(&self.config.database.users, &current.username);
        Ok(self
            .preflight(Purpose::Rotate, &state, standby)
            .await?
            .unwrap_or_default())
    }

    pub(super) async fn view_consumers(
        &self,
        consumers: &dyn Consumers,
        state: &StoreState,
        heal: bool,
        writes: Vec<WriteCheck>,
        progress: &dyn Progress,
    ) -> Result<ConsumerView, Error> {
        // A write the preflight saw refused would fail the heal too: then
        // it is only previewed, and the plan's `writes` gate says why.
        let heal = heal && writes.iter().all(|w| w.result != Proof::Denied);
        let on = self.on();
        let err = |doing: &str| {
            let doing = doing.to_owned();
            move |source| on.consumers(doing, source)
        };
        let done = consumers
            .sync(
                self.name(),
                &self.complete(&state.current.document),
                &state.current.version,
                SyncReason::Heal,
                !heal,
                progress,
            )
            .await
            .map_err(err("heal the consumers to the store's current version"))?;
        let mut healed = done
            .secrets_written
            .iter()
            .map(|s| format!("Secret {s}"))
            .collect::<Vec<_>>();
        healed.extend(
            done.workloads_restarted
                .iter()
                .map(|w| format!("restart {w}")),
        );
        let unfinished_rollouts = consumers
            .unfinished_rollouts()
            .await
            .map_err(err("read the workloads' rollout status"))?;
        Ok(ConsumerView {
            healed,
            unfinished_rollouts,
            writes,
        })
    }
}
