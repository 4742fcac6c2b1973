//! The least-privilege policies in policies/ grant exactly what each store
//! calls: the permissions are the ones the store code names in its errors.

use seesaw::store::{AwsStore, AzureStore, GcpStore};
use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

#[test]
fn the_aws_policy_allows_exactly_the_actions_the_store_calls() {
    let policy: serde_json::Value =
        serde_json::from_str(&read("policies/aws/seesaw-daemon.json")).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let granted: BTreeSet<String> = statements[0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let used: BTreeSet<String> = AwsStore::PERMISSIONS
        .iter()
        .map(|a| format!("secretsmanager:{a}"))
        .collect();
    assert_eq!(granted, used);
    for resource in statements[0]["Resource"].as_array().unwrap() {
        let arn = resource.as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:secretsmanager:") && arn.ends_with("-??????"),
            "scoped to one secret: {arn}"
        );
    }
}

#[test]
fn the_lambda_policy_rotates_with_the_store_actions_and_reads_only_the_master() {
    let policy: serde_json::Value =
        serde_json::from_str(&read("policies/aws/seesaw-lambda.json")).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let actions = |sid: &str| -> BTreeSet<String> {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid}"))["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let used: BTreeSet<String> = AwsStore::PERMISSIONS
        .iter()
        .map(|a| format!("secretsmanager:{a}"))
        .collect();
    assert_eq!(actions("RotateTheSecret"), used);
    assert_eq!(
        actions("ReadTheMasterSecret"),
        set(["secretsmanager:GetSecretValue"])
    );
    let template = read("deploy/lambda/template.yaml");
    for action in &used {
        assert!(
            template.contains(action.as_str()),
            "the SAM template grants {action}"
        );
    }
}

#[test]
fn the_gcp_role_has_exactly_the_permissions_the_store_uses() {
    let role: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("policies/gcp/seesaw-rotator-role.yaml")).unwrap();
    let granted: BTreeSet<String> = role["includedPermissions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(granted, set(GcpStore::PERMISSIONS));
    let readme = read("policies/gcp/README.md");
    for role in ["secretVersionAdder", "secretAccessor", "viewer"] {
        assert!(
            readme.contains(&format!("roles/secretmanager.{role}")),
            "{role}"
        );
    }
}

#[test]
fn the_azure_role_has_exactly_the_data_actions_the_store_uses() {
    let role: serde_json::Value =
        serde_json::from_str(&read("policies/azure/seesaw-rotator-role.json")).unwrap();
    let granted: BTreeSet<String> = role["DataActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(granted, set(AzureStore::PERMISSIONS));
    assert!(
        role["Actions"].as_array().unwrap().is_empty(),
        "no control-plane actions"
    );
    let assignment: serde_json::Value =
        serde_json::from_str(&read("policies/azure/role-assignment.json")).unwrap();
    let scope = assignment["resources"][0]["scope"].as_str().unwrap();
    assert!(scope.contains("/secrets/"), "scoped to the secret: {scope}");
}
