//! The secret operations through the SDK: set, get, versions, properties,
//! disabled versions, paging, missing secrets, concurrent writers and every
//! api-version the SDK knows.

use crate::sdk::Sdk;
use crate::support::keyvault::Vault;
use serde_json::{json, Value};

fn versions(listing: &Value) -> Vec<&str> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect()
}

#[test]
fn set_get_list_update_and_disable_as_the_sdk_expects() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = Vault::start();
    let run = sdk.run(&vault, "crud", &[]);

    let v1 = run.ok("set v1");
    assert_eq!(v1["value"], "value-1");
    assert_eq!(v1["tags"], json!({"a": "1"}));
    assert_eq!(v1["content_type"], "text/plain");
    assert_eq!(v1["enabled"], true);
    let (id1, id2) = (
        v1["version"].as_str().unwrap(),
        run.ok("set v2")["version"].as_str().unwrap(),
    );
    assert!(
        [id1, id2]
            .iter()
            .all(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())),
        "version ids are 32 hex digits: {id1} {id2}"
    );
    // A version set without tags has none (not an empty map).
    assert_eq!(run.ok("set v2")["tags"], Value::Null);

    let latest = run.ok("get latest");
    assert_eq!(
        (latest["value"].as_str(), latest["version"].as_str()),
        (Some("value-2"), Some(id2))
    );
    let old = run.ok("get v1");
    assert_eq!(old["value"], "value-1");
    assert_eq!(old["tags"], json!({"a": "1"}));

    // max_page_size=1: the SDK follows nextLink through two pages.
    let mut listed = versions(run.ok("list versions"));
    listed.sort();
    let mut expected = vec![id1, id2];
    expected.sort();
    assert_eq!(listed, expected);

    let disabled = run.ok("disable v1");
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["tags"], json!({"b": "2"}), "tags are replaced");
    assert_eq!(disabled["content_type"], "application/json");
    assert_eq!(disabled["version"], id1);
    assert!(disabled["updated"].as_f64() >= disabled["created"].as_f64());
    // The real service refuses a disabled version's value: 403 Forbidden,
    // inner code SecretDisabled, which the SDK raises as HttpResponseError.
    let refused = |op: &str| {
        assert_eq!(
            run.err(op),
            (
                "HttpResponseError".into(),
                403,
                "Forbidden".into(),
                "SecretDisabled".into()
            ),
            "{op}"
        )
    };
    refused("get disabled v1");
    let after = run.ok("list after disable");
    let listed_v1 = after
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["version"] == id1);
    assert_eq!(listed_v1.unwrap()["enabled"], false, "{after:#}");

    // Updating without a version updates the latest.
    let updated = run.ok("update latest");
    assert_eq!(
        (updated["version"].as_str(), &updated["tags"]),
        (Some(id2), &json!({"c": "3"}))
    );
    assert_eq!(run.ok("disable latest")["enabled"], false);
    refused("get disabled latest");
    assert_eq!(run.ok("enable v1")["enabled"], true);
    assert_eq!(run.ok("get enabled v1")["value"], "value-1");

    // Attributes sent with a set are kept: disabled from birth, with dates.
    let born = run.ok("set disabled with dates");
    assert_eq!(born["enabled"], false);
    assert_eq!(born["not_before"], 1422864000.0);
    assert_eq!(born["expires"], 2527401600.0);
    refused("get born disabled");

    // The first request had no token and drew the challenge; every answer
    // is JSON in Key Vault's content type, with its service headers.
    let first = &run.answers[0];
    assert_eq!(first["status"], 401, "{first:#}");
    let challenge = first["headers"]["www-authenticate"]
        .as_str()
        .unwrap_or_default();
    assert!(
        challenge.contains("resource=\"https://vault.azure.net\""),
        "{challenge}"
    );
    for answer in &run.answers {
        let headers = &answer["headers"];
        assert_eq!(
            headers["content-type"], "application/json; charset=utf-8",
            "{answer:#}"
        );
        assert!(headers["x-ms-keyvault-region"].is_string(), "{answer:#}");
        assert!(headers["x-ms-request-id"].is_string(), "{answer:#}");
    }
}

#[test]
fn missing_secrets_and_versions_are_not_found() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = Vault::start();
    let run = sdk.run(&vault, "missing", &[]);
    for op in [
        "get missing secret",
        "get missing version",
        "update missing version",
        "list missing secret",
    ] {
        let (error, status, code, _) = run.err(op);
        assert_eq!(
            (error.as_str(), status, code.as_str()),
            ("ResourceNotFoundError", 404, "SecretNotFound"),
            "{op}"
        );
    }
}

#[test]
fn versions_are_listed_in_pages_the_sdk_follows() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = Vault::start();
    let run = sdk.run(&vault, "paging", &[]);
    for op in ["list default pages", "list pages of 10"] {
        let listed = versions(run.ok(op));
        assert_eq!(listed.len(), 27, "{op}: every version, once");
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, listed,
            "{op}: sorted by id, as the service lists them"
        );
    }
    let pages = |query: &str| {
        run.answers
            .iter()
            .filter(|a| a["path"].as_str().unwrap().contains("/versions"))
            .filter(|a| a["path"].as_str().unwrap().contains(query))
            .count()
    };
    // 25 to a page by default, then 10 asked for: 2 pages, then 3.
    assert_eq!(pages(""), 2 + 3, "{:#?}", run.answers);
    assert_eq!(pages("maxresults=10"), 3, "{:#?}", run.answers);
}

#[test]
fn concurrent_writers_each_add_a_version_and_nothing_is_conditional() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = Vault::start();
    let run = sdk.run(&vault, "concurrent", &[]);
    assert_eq!(run.ok("versions"), 10);
    assert_eq!(vault.versions("shared"), 10);
    // Neither set nor update takes an ETag or a match condition: Key
    // Vault's secrets have no conditional write, which is why seesaw
    // checks before and after its set (src/store/azure/mod.rs).
    assert_eq!(run.ok("conditional parameters"), &json!([]));
}

#[test]
fn every_api_version_the_sdk_knows_is_served() {
    let Some(sdk) = Sdk::find() else { return };
    let vault = Vault::start();
    let run = sdk.run(&vault, "api_versions", &[]);
    let default = run.ok("default").as_str().unwrap().to_owned();
    for version in ["2025-07-01", "7.6", "7.0", "2016-10-01", default.as_str()] {
        assert_eq!(run.ok(version), "x", "{version}");
    }
    let failed: Vec<_> = run.steps.iter().filter(|s| s["ok"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
