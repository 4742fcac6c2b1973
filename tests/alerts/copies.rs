//! kustomize reads only files inside a component, so
//! deploy/kubernetes/components/monitoring carries copies of the chart's
//! rules and dashboard; they must be the same (`tests/alerts/tools sync`).

use crate::{read, DASHBOARD, RULES};
use serde_yaml_ng::Value;

const COMPONENT: &str = "deploy/kubernetes/components/monitoring";

#[test]
fn the_kustomize_component_carries_the_charts_rules_and_dashboard() {
    let rule: Value =
        serde_yaml_ng::from_str(&read(&format!("{COMPONENT}/prometheusrule.yaml"))).unwrap();
    let source: Value = serde_yaml_ng::from_str(&read(RULES)).unwrap();
    assert_eq!(rule["kind"].as_str(), Some("PrometheusRule"));
    assert!(
        rule["spec"] == source,
        "{COMPONENT}/prometheusrule.yaml differs from {RULES}: run tests/alerts/tools sync"
    );
    assert!(
        read(&format!("{COMPONENT}/grafana-dashboard.json")) == read(DASHBOARD),
        "{COMPONENT}/grafana-dashboard.json differs from {DASHBOARD}: run tests/alerts/tools sync"
    );
}
