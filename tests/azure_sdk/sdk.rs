//! Finding a Python with Azure's SDK, and running driver.py against a vault.

use crate::support::keyvault::Vault;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const FIX: &str = "python3 -m venv ~/.cache/seesaw/venv && ~/.cache/seesaw/venv/bin/pip install azure-keyvault-secrets azure-identity (or set SEESAW_AZURE_PYTHON to a python that has them)";

pub struct Sdk {
    python: PathBuf,
}

/// What one driver run printed: its steps, and every HTTP answer the SDK's
/// pipeline saw (retries and challenges included).
pub struct Run {
    pub scenario: String,
    pub steps: Vec<Value>,
    pub answers: Vec<Value>,
}

impl Sdk {
    /// `$SEESAW_AZURE_PYTHON` (.ci/run exports its venv's), else the cache
    /// venv's python; `None` outside CI when neither has the SDK.
    pub fn find() -> Option<Sdk> {
        let cache = std::env::var_os("SEESAW_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/seesaw")));
        let candidates = std::env::var_os("SEESAW_AZURE_PYTHON")
            .map(PathBuf::from)
            .into_iter()
            .chain(cache.map(|c| c.join("venv/bin/python")));
        for python in candidates {
            let has_sdk = Command::new(&python)
                .args(["-c", "import azure.keyvault.secrets, azure.identity"])
                .output()
                .is_ok_and(|o| o.status.success());
            if has_sdk {
                return Some(Sdk { python });
            }
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "Azure's Python SDK (azure-keyvault-secrets, azure-identity) is missing in CI: .ci/run installs it into $SEESAW_CACHE/venv and exports SEESAW_AZURE_PYTHON"
        );
        eprintln!("Azure's Python SDK not installed: skipping ({FIX})");
        None
    }

    /// Runs `scenario` of driver.py against `vault` with `env` added.
    pub fn run(&self, vault: &Vault, scenario: &str, env: &[(&str, String)]) -> Run {
        let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/azure_sdk/driver.py");
        let mut command = Command::new(&self.python);
        command
            .arg(driver)
            .arg(scenario)
            // Only the fake's proxy and CA: nothing from the caller's
            // environment may send the SDK elsewhere.
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("AZURE_AUTHORITY_HOST")
            .env("SEESAW_VAULT_URL", &vault.url)
            .env("SEESAW_CA_FILE", &vault.ca_file)
            .envs(vault.env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().map(|(k, v)| (k, v)));
        let out = command.output().expect("start the Python driver");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "driver.py {scenario} failed:\n{stderr}"
        );
        let printed: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("driver.py {scenario} printed no JSON ({e}):\n{stderr}"));
        let list = |key: &str| printed[key].as_array().cloned().unwrap_or_default();
        Run {
            scenario: scenario.to_owned(),
            steps: list("steps"),
            answers: list("answers"),
        }
    }
}

impl Run {
    /// The step named `op`.
    pub fn step(&self, op: &str) -> &Value {
        self.steps
            .iter()
            .find(|s| s["op"] == op)
            .unwrap_or_else(|| panic!("{}: no step {op:?} in {:#?}", self.scenario, self.steps))
    }

    /// The result of `op`, which must have succeeded.
    pub fn ok(&self, op: &str) -> &Value {
        let step = self.step(op);
        assert_eq!(step["ok"], true, "{}: {op} failed: {step:#}", self.scenario);
        &step["result"]
    }

    /// The error of `op`, which must have failed: (SDK exception, status,
    /// error code, inner code).
    pub fn err(&self, op: &str) -> (String, u64, String, String) {
        let step = self.step(op);
        assert_eq!(
            step["ok"], false,
            "{}: {op} succeeded: {step:#}",
            self.scenario
        );
        let text = |k: &str| step[k].as_str().unwrap_or_default().to_owned();
        (
            text("error"),
            step["status"].as_u64().unwrap_or(0),
            text("code"),
            text("inner"),
        )
    }

    /// The statuses of every answer, in order.
    pub fn statuses(&self) -> Vec<u64> {
        self.answers
            .iter()
            .map(|a| a["status"].as_u64().unwrap_or(0))
            .collect()
    }
}
