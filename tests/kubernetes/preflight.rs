//! The preflight beside a rotation: the daemon tries every write at start
//! and at each reload and says what is refused (a metric and its log),
//! staying ready; follow mode tries a pass's writes before the first one.

use crate::common::{seesaw, settled, setup, NS};
use serde_json::json;

#[tokio::test]
async fn follow_tries_a_pass_before_writing_anything() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let mut secret = kube.get("secrets", NS, "app-db").unwrap();
    secret["data"]["password"] = json!("aGFuZC1lZGl0ZWQ="); // "hand-edited"
    kube.put("secrets", NS, secret);
    let template = kube.get("deployments", NS, "api").unwrap()["spec"]["template"].clone();
    kube.deny("patch", "deployments");
    let run = seesaw(&t, &kube, &["follow", "demo", "--once"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("would be refused, so nothing was written"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("patch Deployment shop/api"),
        "{}",
        run.stderr
    );
    // The Secret was not healed ahead of a workload that cannot follow it.
    assert_eq!(kube.secret_data(NS, "app-db")["password"], "hand-edited");
    assert_eq!(
        kube.get("deployments", NS, "api").unwrap()["spec"]["template"],
        template
    );
    kube.allow_all();
    let run = seesaw(&t, &kube, &["follow", "demo", "--once"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        t.login("current").1
    );
}

/// The daemon's part: built with the `daemon` feature (this target needs
/// only `kubernetes`).
#[cfg(feature = "daemon")]
mod daemon {
    use crate::common::{settled, setup};
    use crate::support;
    use crate::support::daemon::{get, start};
    use seesaw::runtime::daemon::DaemonOptions;
    use std::time::Duration;

    /// The value of `seesaw_preflight_denied_writes` for target demo, once the
    /// daemon has reported it.
    async fn denied_writes(addr: std::net::SocketAddr) -> Option<u64> {
        let text = get(addr, "/metrics").await.1;
        text.lines()
            .find_map(|l| l.strip_prefix("seesaw_preflight_denied_writes{target=\"demo\"} "))
            .map(|v| v.trim().parse().unwrap())
    }

    async fn until_denied(addr: std::net::SocketAddr, want: u64) {
        for _ in 0..200 {
            if denied_writes(addr).await == Some(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "seesaw_preflight_denied_writes never became {want}: {:?}",
            denied_writes(addr).await
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_daemon_tries_every_write_at_start_and_reload_and_stays_ready() {
        let (t, kube) = setup(&[("Deployment", "api")], true).await;
        settled(&kube).await;
        kube.deny("patch", "deployments");
        let mut options = DaemonOptions {
            engine: support::seesaw::engine_options(),
            http_address: Some("127.0.0.1:0".into()),
            reload_poll: Duration::from_millis(100),
            ..Default::default()
        };
        options.engine.kubeconfig = Some(kube.kubeconfig());
        let rt = tokio::runtime::Handle::current();
        let (addr, stop, task) = start(&rt, &t.config, options).await;
        until_denied(addr, 1).await;
        assert_eq!(
            get(addr, "/readyz").await.0,
            200,
            "a refused write is not a reason to restart the pod"
        );
        assert!(
            kube.requests("dryrun patch deployments api") >= 1,
            "the restart's patch was tried as a dry run"
        );
        assert_eq!(
            kube.requests("patch deployments"),
            0,
            "and never sent for real"
        );

        // Permission granted, config reloaded: nothing refused any more.
        kube.allow_all();
        let text = std::fs::read_to_string(&t.config).unwrap();
        std::fs::write(&t.config, format!("{text}# reloaded\n")).unwrap();
        until_denied(addr, 0).await;
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }
}
