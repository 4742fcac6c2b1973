//! The monitoring objects as the cluster gets them: the chart rendered with
//! its monitoring values on, and the kustomize manifests with the
//! monitoring component, accepted by the real API server (server-side dry
//! run) with prometheus-operator's CRDs applied from its Go module.

use crate::{must, read, repo, tool, DASHBOARD, RULES, RUNBOOK};
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const ON: [&str; 6] = [
    "--set",
    "serviceMonitor.enabled=true",
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "dashboard.enabled=true",
];

/// The control plane (`tests/kube/control-plane up`): its kubeconfig and
/// its binaries (kubectl, helm).
fn cluster() -> Option<(PathBuf, PathBuf)> {
    let how = "tests/kube/control-plane up DIR, then export the variables in DIR/env";
    let kubeconfig = tool("SEESAW_KUBECONFIG", how)?;
    Some((kubeconfig, tool("SEESAW_KUBE_BIN", how)?))
}

fn helm(bin: &Path, args: &[&str]) -> Vec<Value> {
    let out = must(
        Command::new(bin.join("helm"))
            .args(["template", "seesaw", "--namespace", "shop"])
            .arg(repo().join("deploy/helm/seesaw"))
            .args(args),
    );
    documents(&out)
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|d: &Value| !d.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

/// What a ServiceMonitor needs to find the pods: its selector matches the
/// metrics Service, which selects the Deployment's pods on port `http`.
fn assert_scrapes_the_pods(docs: &[Value]) {
    let monitor = find(docs, "ServiceMonitor")[0];
    let service = find(docs, "Service")[0];
    let pods = &find(docs, "Deployment")[0]["spec"]["template"]["metadata"]["labels"];
    let subset = |want: &Value, have: &Value| {
        want.as_mapping()
            .unwrap()
            .iter()
            .all(|(k, v)| have.get(k) == Some(v))
    };
    assert!(subset(
        &monitor["spec"]["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    assert!(subset(&service["spec"]["selector"], pods));
    assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/name");
    assert_eq!(
        service["metadata"]["labels"]["app.kubernetes.io/name"], "seesaw",
        "job=\"seesaw\""
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
}

/// Off by default; on, the chart's objects carry the rules file and the
/// dashboard as they are (the runbook link may point elsewhere), and the
/// schema refuses what the templates cannot use.
#[test]
fn the_chart_renders_the_monitoring_objects_when_asked() {
    let Some((_, bin)) = cluster() else { return };
    let off = helm(&bin, &[]);
    for kind in ["ServiceMonitor", "PrometheusRule", "Service"] {
        assert!(find(&off, kind).is_empty(), "{kind} rendered by default");
    }
    assert_eq!(find(&off, "ConfigMap").len(), 1, "only the config");

    let on = helm(&bin, &ON);
    assert_scrapes_the_pods(&on);
    let rules: Value = serde_yaml_ng::from_str(&read(RULES)).unwrap();
    assert!(
        find(&on, "PrometheusRule")[0]["spec"] == rules,
        "the rules as tested"
    );
    let dashboard = find(&on, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == "seesaw-dashboard")
        .expect("the dashboard's ConfigMap");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(
        dashboard["data"]["seesaw.json"].as_str(),
        Some(read(DASHBOARD).trim_end())
    );

    let mut args = ON.to_vec();
    args.extend([
        "--set",
        "prometheusRule.runbookUrl=https://wiki.example/seesaw",
        "--set",
        "serviceMonitor.labels.release=kube-prometheus-stack",
    ]);
    let moved = helm(&bin, &args);
    let text = serde_yaml_ng::to_string(&find(&moved, "PrometheusRule")[0]).unwrap();
    assert!(
        text.contains("https://wiki.example/seesaw#seesawrotationfailed"),
        "{text}"
    );
    assert!(!text.contains(RUNBOOK));
    assert_eq!(
        find(&moved, "ServiceMonitor")[0]["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );

    must(
        Command::new(bin.join("helm"))
            .args(["lint", "--strict"])
            .arg(repo().join("deploy/helm/seesaw"))
            .args(ON),
    );
    let bad = Command::new(bin.join("helm"))
        .args([
            "template",
            "seesaw",
            "--set",
            "serviceMonitor.interval=soon",
        ])
        .arg(repo().join("deploy/helm/seesaw"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("serviceMonitor"));
}

#[test]
fn the_api_server_accepts_the_monitoring_objects() {
    let Some((kubeconfig, bin)) = cluster() else {
        return;
    };
    let Some(crds) = tool(
        "SEESAW_OPERATOR_CRDS",
        "export SEESAW_OPERATOR_CRDS=$(tests/alerts/tools operator-crds)",
    ) else {
        return;
    };
    let kubectl = || {
        let mut c = Command::new(bin.join("kubectl"));
        c.arg("--kubeconfig").arg(&kubeconfig);
        c
    };
    for kind in ["servicemonitors", "prometheusrules"] {
        must(
            kubectl()
                .args(["apply", "--server-side", "--force-conflicts", "-f"])
                .arg(crds.join(format!("monitoring.coreos.com_{kind}.yaml"))),
        );
        must(kubectl().args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{kind}.monitoring.coreos.com"),
        ]));
    }
    let namespace = kubectl()
        .args(["create", "namespace", "shop"])
        .output()
        .unwrap();
    assert!(
        namespace.status.success()
            || String::from_utf8_lossy(&namespace.stderr).contains("AlreadyExists"),
        "{}",
        String::from_utf8_lossy(&namespace.stderr)
    );
    let dry_run = |yaml: &str| -> Result<String, String> {
        let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        std::fs::write(file.path(), yaml).unwrap();
        let out = kubectl()
            .args(["apply", "--dry-run=server", "-f"])
            .arg(file.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{text}{err}"))
        }
    };
    let objects = [
        "servicemonitor.monitoring.coreos.com/seesaw",
        "prometheusrule.monitoring.coreos.com/seesaw",
        "service/seesaw-metrics",
        "configmap/seesaw-dashboard",
    ];

    let chart = must(
        Command::new(bin.join("helm"))
            .args(["template", "seesaw", "--namespace", "shop"])
            .arg(repo().join("deploy/helm/seesaw"))
            .args(ON),
    );
    let out = dry_run(&chart).unwrap_or_else(|e| panic!("the chart: {e}"));
    for object in objects {
        assert!(out.contains(object), "{object} not applied: {out}");
    }

    // kustomize takes the base and the component only as paths relative
    // to the overlay.
    let overlay = tempfile::tempdir().unwrap();
    let up: String = overlay.path().components().skip(1).map(|_| "../").collect();
    let base = format!(
        "{up}{}",
        repo()
            .join("deploy/kubernetes")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        format!("resources: [{base}]\ncomponents: [{base}/components/monitoring]\n"),
    )
    .unwrap();
    let built = must(kubectl().arg("kustomize").arg(overlay.path()));
    assert_scrapes_the_pods(&documents(&built));
    let out = dry_run(&built).unwrap_or_else(|e| panic!("the kustomize component: {e}"));
    for object in objects {
        assert!(out.contains(object), "{object} not applied: {out}");
    }

    // The CRD's schema really checks: a rule whose `for` is no duration is
    // refused.
    let bad = chart.replacen("for: 15m", "for: a quarter hour", 1);
    assert_ne!(bad, chart);
    let refused = dry_run(&bad).expect_err("a PrometheusRule with a bad `for`");
    assert!(refused.contains("for"), "{refused}");
}
