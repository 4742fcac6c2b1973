//! Where seesaw reads environment variables: the process's environment,
//! under values given explicitly. The CLI, the daemon and the Lambda use
//! the process's; a test or an embedding program passes its own values
//! instead of changing the process's environment (`std::env::set_var` races
//! with every thread that reads it, and a test suite runs many threads).
//!
//! It carries the names seesaw itself reads (`password_env` of an admin
//! login) and the ones it hands to cloud SDKs that would otherwise read the
//! process's environment behind seesaw's back (AWS credentials and region,
//! Azure workload identity, the HTTPS proxy).

use std::collections::BTreeMap;
use std::sync::Arc;

/// Environment variables: explicit values first, then the process's.
#[derive(Clone, Default)]
pub struct Environment {
    explicit: Arc<BTreeMap<String, String>>,
}

impl Environment {
    /// The process's environment, nothing explicit.
    pub fn process() -> Environment {
        Environment::default()
    }

    /// This environment with `name` set to `value`, the process's
    /// environment untouched.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Environment {
        Arc::make_mut(&mut self.explicit).insert(name.into(), value.into());
        self
    }

    /// The value of `name`: the explicit one, else the process's. Unset
    /// and not Unicode read as `None`.
    pub fn get(&self, name: &str) -> Option<String> {
        match self.explicit.get(name) {
            Some(value) => Some(value.clone()),
            None => std::env::var(name).ok(),
        }
    }

    /// `name`'s value only if given explicitly. For settings an SDK reads
    /// from the process itself: seesaw passes these on and leaves the rest
    /// to the SDK's own lookup.
    pub fn explicit(&self, name: &str) -> Option<&str> {
        self.explicit.get(name).map(String::as_str)
    }
}

/// Names only: values may be passwords or keys.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("explicit", &self.explicit.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_values_come_first_and_debug_shows_only_names() {
        let env = Environment::process().with("SEESAW_TEST_ENVIRONMENT_X", "s3cret-value");
        assert_eq!(
            env.get("SEESAW_TEST_ENVIRONMENT_X").as_deref(),
            Some("s3cret-value")
        );
        assert_eq!(
            env.explicit("SEESAW_TEST_ENVIRONMENT_X"),
            Some("s3cret-value")
        );
        assert!(std::env::var_os("SEESAW_TEST_ENVIRONMENT_X").is_none());
        // PATH is always set for the test runner: the process's value shows
        // through, but is not explicit.
        assert!(env.get("PATH").is_some());
        assert_eq!(env.explicit("PATH"), None);
        let shown = format!("{env:?}");
        assert!(shown.contains("SEESAW_TEST_ENVIRONMENT_X"), "{shown}");
        assert!(!shown.contains("s3cret-value"), "{shown}");
    }
}
