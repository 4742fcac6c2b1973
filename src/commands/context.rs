//! What the commands that act on targets start from.

use crate::cli::Cli;
use crate::config::{Config, TargetConfig};
use crate::error::Error;
use crate::runtime::EngineOptions;

/// What every command that acts on targets starts from: the config, and
/// how to reach Kubernetes. Loading it also starts watching for Ctrl-C.
pub(super) struct Context {
    pub(super) config: Config,
    pub(super) engine: EngineOptions,
}

impl Context {
    pub(super) fn load(cli: &Cli) -> Result<Context, Error> {
        let config = Config::load(&cli.config).map_err(Error::Config)?;
        super::interrupt::watch_interrupts();
        Ok(Context {
            config,
            engine: engine_options(cli),
        })
    }

    /// The named target, or every target when none is named.
    pub(super) fn targets(&self, only: Option<&str>) -> Result<Vec<&TargetConfig>, Error> {
        match only {
            Some(name) => Ok(vec![self.config.target(name)?]),
            None => Ok(self.config.targets.iter().collect()),
        }
    }
}

pub(super) fn engine_options(cli: &Cli) -> EngineOptions {
    EngineOptions {
        kube_context: cli.kube_context.clone(),
        kubeconfig: cli.kubeconfig.clone(),
        ..Default::default()
    }
}
