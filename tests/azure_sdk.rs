//! The Key Vault fake (tests/support/keyvault) held to Azure's own client:
//! tests/azure_sdk/driver.py runs the official Python SDK
//! (azure-keyvault-secrets with azure-identity's workload identity) against
//! it, and these tests assert that every call succeeds or fails as the SDK
//! expects of the real service. seesaw's Azure store is tested against the
//! same fake (tests/stores, tests/faults), so what passes here is what the
//! fake lets seesaw get away with. docs/azure-testing.md says what this
//! proves and what it cannot (a real vault).
//!
//! Needs a Python with the SDK (`$SEESAW_AZURE_PYTHON`, or the venv in
//! `~/.cache/seesaw` that .ci/run fills): skipped without it outside CI,
//! failed in CI.
#![cfg(feature = "azure")]

#[path = "support/mod.rs"]
mod support;

// A crate root finds its modules beside it: these live in tests/azure_sdk/.
#[path = "azure_sdk/faults.rs"]
mod faults;
#[path = "azure_sdk/sdk.rs"]
mod sdk;
#[path = "azure_sdk/secrets.rs"]
mod secrets;
