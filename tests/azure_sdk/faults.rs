//! Throttling, denial and tokens the vault refuses, as the SDK meets them.

use crate::sdk::Sdk;
use crate::support::keyvault::{Mode, Vault};
use serde_json::json;

fn vault_with(secret: &str) -> Vault {
    let vault = Vault::start();
    vault.set(secret, &json!({"username": "app_a"}));
    vault
}

fn secret(name: &str) -> Vec<(&'static str, String)> {
    vec![("SEESAW_SECRET", name.to_owned())]
}

#[test]
fn a_429_with_retry_after_is_waited_out_then_retried() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = vault_with("busy");
    vault.set_mode(Mode::ThrottleRetryAfter(1, 2));
    let run = sdk.run(&vault, "get", &secret("busy"));
    assert_eq!(run.ok("get")["value"], r#"{"username":"app_a"}"#);
    assert_eq!(vault.throttled(), 1);
    let throttled = run.answers.iter().find(|a| a["status"] == 429).unwrap();
    assert_eq!(throttled["headers"]["retry-after"], "2");
    assert_eq!(run.statuses().last(), Some(&200));
    // The SDK honoured the header: it waited its 2 s before retrying.
    let seconds = run.step("get")["seconds"].as_f64().unwrap();
    assert!(seconds >= 2.0, "retried after {seconds} s");
}

#[test]
fn a_429_without_retry_after_is_retried_with_backoff() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = vault_with("busy");
    // The recorded 429 of the real service carries no Retry-After.
    vault.set_mode(Mode::Throttle(2));
    let run = sdk.run(&vault, "get", &secret("busy"));
    assert!(run.step("get")["ok"] == true, "{:#?}", run.steps);
    assert_eq!(vault.throttled(), 2);
    let throttles = run.statuses().iter().filter(|s| **s == 429).count();
    assert_eq!(throttles, 2, "{:?}", run.statuses());
    let throttled = run.answers.iter().find(|a| a["status"] == 429).unwrap();
    assert!(throttled["headers"].get("retry-after").is_none());
}

#[test]
fn a_denial_is_a_403_forbidden_by_rbac() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = vault_with("locked");
    vault.set_mode(Mode::Deny);
    let run = sdk.run(&vault, "get", &secret("locked"));
    let (error, status, code, inner) = run.err("get");
    assert_eq!(
        (error.as_str(), status, code.as_str(), inner.as_str()),
        ("HttpResponseError", 403, "Forbidden", "ForbiddenByRbac")
    );
    let message = run.step("get")["message"].as_str().unwrap_or_default();
    assert!(message.contains("secrets/getSecret/action"), "{message}");
}

#[test]
fn a_version_the_operator_disabled_is_refused_to_the_sdk() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = Vault::start();
    let old = vault.set("rotated", &json!({"username": "app_a"}));
    vault.set("rotated", &json!({"username": "app_b"}));
    // What `az keyvault secret set-attributes --enabled false` leaves,
    // through the fake's handle (seesaw's tests use it so).
    vault.disable("rotated", &old);
    let mut env = secret("rotated");
    env.push(("SEESAW_VERSION", old));
    let run = sdk.run(&vault, "get", &env);
    assert_eq!(
        run.err("get"),
        (
            "HttpResponseError".into(),
            403,
            "Forbidden".into(),
            "SecretDisabled".into()
        )
    );
}

#[test]
fn an_expired_token_draws_a_challenge_and_the_sdk_gets_a_new_one() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = vault_with("timed");
    // The first token outlives the first call only (8 s leave the driver
    // time to start on a busy machine; it then waits for the expiry). The
    // credential claims an hour for both, so only the vault's 401 tells
    // the SDK.
    let valid_for = 8;
    let expires_at = chrono::Utc::now().timestamp() + valid_for;
    let tokens = [vault.token(valid_for), vault.token(3600)].join(",");
    let mut env = secret("timed");
    env.extend([
        ("SEESAW_TOKENS", tokens),
        ("SEESAW_EXPIRES_AT", expires_at.to_string()),
    ]);
    let run = sdk.run(&vault, "expiring", &env);
    run.ok("get with a fresh token");
    run.ok("get after it expired");
    assert_eq!(run.ok("token requests"), 2, "one new token, after the 401");
    // Discovery (401 without a token), 200; then the expired token's 401
    // with a challenge, and 200 with the new token.
    assert_eq!(run.statuses(), [401, 200, 401, 200]);
    let expired = &run.answers[2];
    assert!(
        expired["headers"]["www-authenticate"].is_string(),
        "the SDK only asks again when the 401 carries a challenge: {expired:#}"
    );
}

#[test]
fn a_token_for_another_resource_is_refused() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = vault_with("elsewhere");
    let mut env = secret("elsewhere");
    env.push(("SEESAW_TOKENS", vault.token_for_another_audience()));
    let run = sdk.run(&vault, "refused", &env);
    let (error, status, code, _) = run.err("get");
    assert_eq!(
        (error.as_str(), status, code.as_str()),
        ("ClientAuthenticationError", 401, "Unauthorized")
    );
    let message = run.step("get")["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("AKV10022: Invalid audience"),
        "{message}"
    );
    // Discovery, the refused token, then the SDK gives up: a second
    // challenge in a row is the service's final word.
    assert_eq!(run.statuses(), [401, 401]);
}
