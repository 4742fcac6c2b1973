//! The chart's probes against the real kubelet, and the image as the
//! kubelet runs it under the chart's securityContext.

use crate::node::must;
use crate::release::{wait_until, Release, RELEASE};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::PostParams;
use std::time::Duration;

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|c| c.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0)
}

/// Rewrites seesaw.yaml in the release's ConfigMap with `edit`.
async fn edit_config(r: &Release, edit: impl FnOnce(&mut serde_yaml_ng::Value)) {
    let api = r.kube.api::<ConfigMap>();
    let name = format!("{RELEASE}-config");
    let mut cm = api.get(&name).await.unwrap();
    let data = cm.data.as_mut().unwrap();
    let mut config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&data["seesaw.yaml"]).unwrap();
    edit(&mut config);
    data.insert(
        "seesaw.yaml".into(),
        serde_yaml_ng::to_string(&config).unwrap(),
    );
    api.replace(&name, &PostParams::default(), &cm)
        .await
        .unwrap();
}

/// Both pods pass the liveness and readiness probes (`helm install
/// --wait` returned); a broken config in the ConfigMap reaches the pods,
/// which keep running (liveness) but turn NotReady in the API (readiness,
/// /readyz naming the key), then Ready again once it is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_a_broken_and_fixed_configmap() {
    let Some(mut r) = Release::prepare().await else {
        return;
    };
    let values = r.values(2, &[]);
    r.install(&values);
    let pods = r.pods().await;
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert!(ready(pod), "{pod:?}");
        assert_eq!(Release::get(pod, "/healthz").await.unwrap().0, 200);
    }

    edit_config(&r, |c| {
        c["defaults"]["schedule"] = "every minute".into();
    })
    .await;
    let took = wait_until("both pods NotReady", Duration::from_secs(120), || async {
        let pods = r.pods().await;
        pods.len() == 2 && pods.iter().all(|p| !ready(p))
    })
    .await;
    eprintln!("NotReady {took:?} after the ConfigMap update");
    for pod in r.pods().await {
        let (code, body) = Release::get(&pod, "/readyz").await.unwrap();
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("defaults.schedule"), "{body}");
        assert_eq!(Release::get(&pod, "/healthz").await.unwrap().0, 200);
        assert_eq!(
            restarts(&pod),
            0,
            "liveness holds while the config is broken"
        );
    }

    edit_config(&r, |c| {
        c["defaults"]["schedule"] = "* * * * *".into();
    })
    .await;
    let took = wait_until(
        "both pods Ready again",
        Duration::from_secs(120),
        || async {
            let pods = r.pods().await;
            pods.len() == 2 && pods.iter().all(ready)
        },
    )
    .await;
    eprintln!("Ready again {took:?} after the fix");
    assert!(r.pods().await.iter().all(|p| restarts(p) == 0));
}

/// The container the kubelet started from the image, under the chart's
/// securityContext: user and group 65532, no capability in any set, no
/// new privileges, a read-only root filesystem, and no shell to exec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_as_65532_read_only_without_capabilities_or_a_shell() {
    let Some(mut r) = Release::prepare().await else {
        return;
    };
    let values = r.values(1, &[]);
    r.install(&values);
    let pod = r.pods().await.remove(0);
    let status = pod.status.as_ref().unwrap();
    let container = &status.container_statuses.as_ref().unwrap()[0];
    let pid = r
        .node
        .container_pid(container.container_id.as_deref().unwrap());
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(field("Uid:"), ["65532"; 4]);
    assert_eq!(field("Gid:"), ["65532"; 4]);
    for caps in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(field(caps), ["0000000000000000"], "{caps}");
    }
    assert_eq!(field("NoNewPrivs:"), ["1"]);
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .unwrap();
    let options = root.split_whitespace().nth(5).unwrap();
    assert!(options.split(',').any(|o| o == "ro"), "{root}");

    let image = format!("/proc/{pid}/root");
    for shell in [
        "bin/sh",
        "usr/bin/sh",
        "bin/bash",
        "bin/busybox",
        "usr/local/bin/sh",
    ] {
        assert!(
            !std::path::Path::new(&image).join(shell).exists(),
            "{shell}"
        );
    }
    let pod_name = pod.metadata.name.as_deref().unwrap();
    let exec = |cmd: &[&str]| {
        r.kube
            .kubectl()
            .args(["exec", "-n", &r.kube.ns, pod_name, "--"])
            .args(cmd)
            .output()
            .unwrap()
    };
    // exec works (the kubelet's streaming path), so what fails next is the
    // shell's absence.
    let version = exec(&["/usr/local/bin/seesaw", "version"]);
    assert!(
        version.status.success(),
        "{}",
        String::from_utf8_lossy(&version.stderr)
    );
    for shell in ["sh", "/bin/sh"] {
        let out = exec(&[shell, "-c", "true"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{shell} ran");
        assert!(
            stderr.contains("not found") || stderr.contains("no such file"),
            "{shell}: {stderr}"
        );
    }
    must(
        r.kube
            .kubectl()
            .args(["get", "pod", "-n", &r.kube.ns, pod_name]),
    );
}
