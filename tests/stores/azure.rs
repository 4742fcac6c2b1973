//! Azure Key Vault (on the fake in support::keyvault): conformance, a full
//! rotation, throttling and denial.

use crate::common::{initial, rotate_three_times};
use crate::support::conformance;
use crate::support::keyvault::{Mode, Vault};
use crate::support::seesaw::Target;
use seesaw::store::SecretStore;

#[tokio::test]
async fn azure_store_conformance() {
    let vault = Vault::start();
    vault.set("conformance", &conformance::adopted());
    let store = vault.store("conformance");
    conformance::run(&store).await;
    conformance::not_found(&vault.store("no-such-secret")).await;
    vault.set("pending", &conformance::adopted());
    let open = || vault.store("pending");
    conformance::pending(&open(), &open()).await;
}

#[tokio::test]
async fn a_full_rotation_with_azure_key_vault_as_the_store() {
    let vault = Vault::start();
    let t = Target::new(["app_a", "app_b"]).await;
    vault.set("app-db", &initial());
    let store = vault.store("app-db");
    let yaml = format!(
        "azure: {{ vault_url: \"{}\", secret: app-db, ca_file: \"{}\" }}",
        vault.url,
        vault.ca_file.display()
    );
    rotate_three_times(&t, &yaml, &vault.env, &store).await;
    assert_eq!(vault.versions("app-db"), 4, "one version per rotation");
}

#[tokio::test]
async fn azure_throttling_is_retried_then_classified_and_denied_names_the_permission() {
    let vault = Vault::start();
    vault.set("throttled", &conformance::adopted());
    let store = vault.store("throttled");
    // Two 429s: the client's own retry absorbs them.
    vault.set_mode(Mode::Throttle(2));
    let state = store.read().await.expect("retried and then succeeded");
    assert_eq!(state.current.document.username().unwrap(), "app_a");
    assert_eq!(vault.throttled(), 2);

    // Throttled throughout: a transient error, for the caller's backoff.
    vault.set_mode(Mode::Throttle(1000));
    let err = store.read().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains(&vault.url), "{err}");

    // Denied: names the permission, the role and the policy file.
    vault.set_mode(Mode::Deny);
    let err = store.read().await.unwrap_err();
    assert_eq!(err.kind(), "denied", "{err}");
    assert!(
        err.to_string()
            .contains("Microsoft.KeyVault/vaults/secrets/getSecret/action"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Key Vault Secrets Officer"),
        "{err}"
    );
    assert!(
        err.to_string().contains("policies/azure/README.md"),
        "{err}"
    );
}

/// An operator disabled the version seesaw reads: the error says so and how
/// to enable it, not that a permission is missing (Key Vault answers 403,
/// inner code SecretDisabled).
#[tokio::test]
async fn a_disabled_version_is_named_as_disabled_not_as_denied() {
    let vault = Vault::start();
    let version = vault.set("switched-off", &conformance::adopted());
    let store = vault.store("switched-off");
    vault.disable("switched-off", &version);
    let err = store.read().await.unwrap_err();
    assert_ne!(err.kind(), "denied", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("is disabled (Key Vault: SecretDisabled)"),
        "{text}"
    );
    assert!(text.contains("--enabled true"), "{text}");
    assert!(!text.contains("Key Vault Secrets Officer"), "{text}");
}
