//! No example can rot: every config the repository ships (examples/, the
//! Kubernetes ConfigMap, the Helm chart's default values) loads and passes
//! validation, and every command an example's header shows parses with that
//! example. `examples/demo.yaml` is also run for real by `.ci/run`, and
//! `seesaw demo` by tests/demo.rs.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_example_config_loads() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let config = seesaw::config::Config::load(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!config.targets.is_empty(), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 6, "one example per store and mode: {seen}");
}

/// The `seesaw ...` lines in an example's header comment: each names the
/// example itself and a target it defines, and its arguments parse.
#[test]
fn the_commands_in_the_examples_headers_fit_the_example() {
    use clap::Parser;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let config = seesaw::config::Config::load(&path).unwrap();
        let name = format!("examples/{}", path.file_name().unwrap().to_string_lossy());
        let commands: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.split_once("seesaw --config ").map(|(_, c)| c))
            .collect();
        assert!(
            !commands.is_empty(),
            "{name}: its header shows how to run it"
        );
        for command in commands {
            let args: Vec<&str> = std::iter::once("seesaw")
                .chain(std::iter::once("--config"))
                .chain(command.split_whitespace())
                .collect();
            assert_eq!(args[2], name, "{name}: {command}");
            let cli = seesaw::cli::Cli::try_parse_from(&args)
                .unwrap_or_else(|e| panic!("{name}: {command}: {e}"));
            let target = match &cli.command {
                seesaw::cli::Command::Rotate { target, .. }
                | seesaw::cli::Command::Plan { target, .. }
                | seesaw::cli::Command::Rollback { target, .. }
                | seesaw::cli::Command::Follow { target, .. }
                | seesaw::cli::Command::SetupSql { target } => Some(target.clone()),
                _ => None,
            };
            if let Some(target) = target {
                assert!(
                    config.target(&target).is_ok(),
                    "{name}: {command}: no target {target:?}"
                );
            }
        }
    }
}

/// The config embedded in a YAML document at `key` (a ConfigMap's data
/// entry is a string; Helm values hold a map).
fn embedded(file: &Path, key: &[&str]) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    for k in key {
        value = value[*k].clone();
    }
    match value {
        serde_yaml_ng::Value::String(s) => s,
        other => serde_yaml_ng::to_string(&other).unwrap(),
    }
}

#[test]
fn the_shipped_kubernetes_and_helm_configs_load() {
    let configmap = root().join("deploy/kubernetes/03-configmap.yaml");
    let text = embedded(&configmap, &["data", "seesaw.yaml"]);
    let config = seesaw::config::Config::parse(&text, "03-configmap.yaml", Path::new("/"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.targets.len(), 1);
    // The chart's defaults ship without targets (the user adds them): with
    // an example's targets, its daemon settings must validate.
    let values = root().join("deploy/helm/seesaw/values.yaml");
    let mut config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&embedded(&values, &["config"])).unwrap();
    let example: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("examples/aws-daemon.yaml")).unwrap(),
    )
    .unwrap();
    config["targets"] = example["targets"].clone();
    let text = serde_yaml_ng::to_string(&config).unwrap();
    seesaw::config::Config::parse(&text, "values.yaml", Path::new("/"))
        .unwrap_or_else(|e| panic!("the chart's default config: {e}"));
}
