//! The standby gate counting PgBouncer's clients: they hold the rotation,
//! and `wait` waits for them to leave.

use crate::common::{seesaw, setup};
use crate::support::seesaw::Run;
use crate::support::{self, pgbouncer};
use std::time::Duration;

#[tokio::test]
async fn a_client_of_the_standby_through_pgbouncer_holds_the_rotation() {
    let (mut t, bouncer) = setup("transaction", Some(true)).await;
    t.database_extra = bouncer.config_lines(true);
    t.write_config();
    assert_eq!(seesaw(&t, &["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let store_before = t.read_store();

    // A client of the standby, idle in transaction pooling: its server
    // connection went back to the pool, and is then closed (as
    // server_idle_timeout would): the database sees nothing of it.
    let client = bouncer.connect(&standby, &password, "app").await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let su = t.cluster.superuser().await;
    su.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
        &[&standby],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_db = sessions_in_db(&su, &standby).await;
    assert_eq!(in_db, 0);

    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    let name = format!("1 client of pgbouncer 127.0.0.1:{}", bouncer.port);
    assert!(run.all().contains(&name), "{}", run.all());
    assert!(run.all().contains("SHOW CLIENTS"), "{}", run.all());
    assert_eq!(t.read_store(), store_before, "the store changed");

    // terminate cannot end a pooler's client, and says so.
    t.database_extra = format!(
        "      standby_sessions: terminate\n{}",
        bouncer.config_lines(true)
    );
    t.write_config();
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.all().contains("pg_terminate_backend"), "{}", run.all());
    assert_eq!(t.read_store(), store_before, "the store changed");
    // The standby's password is untouched: its client still works.
    client.simple_query("SELECT 1").await.unwrap();
    assert!(t.cluster.can_login(&standby, &password, "app").await);

    // Once the client is gone, PgBouncer's own idle server connection of
    // the standby (in pg_stat_activity) does not hold the rotation.
    drop(client);
    let other = bouncer.connect(&standby, &password, "app").await.unwrap();
    other.simple_query("SELECT 1").await.unwrap();
    drop(other);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let in_db = sessions_in_db(&su, &standby).await;
    assert_eq!(
        in_db, 1,
        "PgBouncer keeps one idle server connection of the standby"
    );
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let (user, password) = t.login("current");
    assert_eq!(user, standby);
    bouncer.login(&user, &password).await.unwrap();
}

#[tokio::test]
async fn wait_waits_for_the_standbys_pooler_clients_to_leave() {
    let (t, bouncer) = setup("transaction", Some(true)).await;
    assert_eq!(seesaw(&t, &["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let client = bouncer.connect(&standby, &password, "app").await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let started = std::time::Instant::now();
    let run = tokio::spawn({
        let config = t.config.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
                .arg("--config")
                .arg(config)
                .args(["rotate", "demo"])
                .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
                .env("TEST_PGBOUNCER_PASSWORD", pgbouncer::ADMIN_PASSWORD)
                .output()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Still waiting: the client holds the old password, unchanged.
    assert!(!run.is_finished());
    client.simple_query("SELECT 1").await.unwrap();
    drop(client);
    let run: Run = run.await.unwrap().into();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(run.all().contains("1 client of pgbouncer"), "{}", run.all());
    assert_eq!(t.login("current").0, standby);
}

async fn sessions_in_db(su: &tokio_postgres::Client, user: &str) -> i64 {
    su.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
        &[&user],
    )
    .await
    .unwrap()
    .get(0)
}
