//! What the daemon tests share: the sped-up clock, a config with two
//! targets, the daemon's options, and counting rotations.

use crate::support;
use crate::support::seesaw::{Target, DB};
use postgres_protocol::escape::{escape_identifier as ident, escape_literal as lit};
use seesaw::runtime::daemon::DaemonOptions;
use seesaw::schedule::Clock;
use serde_json::json;
use std::time::Duration;

pub const SPEED: f64 = 30.0;

/// A cluster with target `demo` (app_a/app_b, from Target) and target
/// `second` (app_c/app_d) in one config, both every minute.
pub async fn two_targets(extra: &str) -> Target {
    let t = Target::new(["app_a", "app_b"]).await;
    let su = t
        .cluster
        .connect("postgres", support::pg::SUPERUSER_PASSWORD, DB)
        .await
        .unwrap();
    su.batch_execute(&format!(
        "CREATE ROLE app_c LOGIN IN ROLE app_owner PASSWORD {}; CREATE ROLE app_d LOGIN IN ROLE app_owner",
        lit("initial-Password-3")
    ))
    .await
    .unwrap();
    let second = t.cluster.dir().join("second.json");
    std::fs::write(
        &second,
        json!({"current": {"username": "app_c", "password": "initial-Password-3"}}).to_string(),
    )
    .unwrap();
    let demo = std::fs::read_to_string(&t.config).unwrap();
    let target_two = demo
        .split_once("  - name: demo\n")
        .unwrap()
        .1
        .replace("[\"app_a\",\"app_b\"]", "[\"app_c\",\"app_d\"]")
        .replace(
            &t.store.display().to_string(),
            &second.display().to_string(),
        );
    let body = demo.replacen(
        "targets:\n",
        &format!("defaults:\n  schedule: \"* * * * *\"\n{extra}targets:\n"),
        1,
    );
    std::fs::write(&t.config, format!("{body}  - name: second\n{target_two}")).unwrap();
    let _ = ident("");
    t
}

pub fn options(clock: Clock) -> DaemonOptions {
    DaemonOptions {
        engine: support::seesaw::engine_options(),
        http_address: Some("127.0.0.1:0".into()),
        clock,
        reload_poll: Duration::from_millis(100),
        ..Default::default()
    }
}

/// Rotations seesaw made, from the server log: one SCRAM `ALTER ROLE` each.
pub fn rotations(t: &Target, users: [&str; 2]) -> usize {
    t.cluster
        .server_log()
        .lines()
        .filter(|l| {
            l.contains("PASSWORD 'SCRAM-SHA-256$")
                && users
                    .iter()
                    .any(|u| l.contains(&format!("ALTER ROLE \"{u}\"")))
        })
        .count()
}

pub async fn sleep_until_sim(clock: &Clock, at: chrono::DateTime<chrono::Utc>) {
    tokio::time::sleep(clock.until(at)).await;
}
