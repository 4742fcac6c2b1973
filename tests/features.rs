//! What a build without some features does when asked for them: it says
//! which feature is missing and what to do, and exits 2; it never panics or
//! pretends. Runs in the default build (everything present) and, from
//! .ci/run, in the Lambda's build (`--no-default-features --features
//! lambda`), where Kubernetes and the daemon are absent.

use std::process::Command;

fn seesaw(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run seesaw");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A target with a `kubernetes:` section; its database is never reached.
fn kubernetes_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("seesaw.yaml");
    std::fs::write(
        &path,
        "targets:\n  - name: demo\n    database:\n      engine: postgres\n      host: 127.0.0.1\n      port: 1\n      dbname: app\n      users: [app_a, app_b]\n      admin: self\n    store:\n      file: { path: ./secret.json }\n    kubernetes:\n      secrets:\n        - { name: app-db, namespace: shop }\n",
    )
    .unwrap();
    path
}

#[test]
fn version_lists_exactly_the_features_built_in() {
    let (code, text) = seesaw(&["version"]);
    assert_eq!(code, 0, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("features: "))
        .unwrap_or_else(|| panic!("no features line: {text}"));
    for (name, on) in [
        ("kubernetes", cfg!(feature = "kubernetes")),
        ("daemon", cfg!(feature = "daemon")),
        ("lambda", cfg!(feature = "lambda")),
        ("mysql", cfg!(feature = "mysql")),
    ] {
        assert_eq!(line.contains(name), on, "{name}: {line}");
    }
}

#[cfg(not(feature = "daemon"))]
#[test]
fn without_the_daemon_run_names_the_feature_and_the_alternative() {
    let (code, text) = seesaw(&["run"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("`daemon` feature"), "{text}");
    assert!(text.contains("seesaw rotate"), "{text}");
}

#[cfg(not(feature = "kubernetes"))]
#[test]
fn without_kubernetes_a_kubernetes_section_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubernetes_config(dir.path());
    let (code, text) = seesaw(&["--config", config.to_str().unwrap(), "plan", "demo"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("kubernetes"), "{text}");
    assert!(text.contains("`kubernetes` feature"), "{text}");
}

#[cfg(feature = "kubernetes")]
#[test]
fn with_kubernetes_the_same_config_gets_past_the_feature_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubernetes_config(dir.path());
    let (_, text) = seesaw(&["--config", config.to_str().unwrap(), "plan", "demo"]);
    assert!(!text.contains("feature"), "{text}");
}
