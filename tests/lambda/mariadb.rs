//! A MariaDB secret in the RDS shape through the four steps (built with
//! the `mysql` feature).

use crate::common::{invoke, settings, stage, STEPS};
use crate::support;
use crate::support::moto::Moto;
use crate::support::seesaw::{ADMIN, ADMIN_PASSWORD};
use serde_json::json;

/// A MariaDB secret in the RDS shape with "masterarn": the four steps
/// create the `_clone` account on the first rotation (locked, grants
/// copied, unlocked last) and alternate back on the second, sending only
/// hashes to the server.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_mariadb_secret_gets_its_clone_and_alternates_through_the_four_steps() {
    use mysql_async::prelude::Queryable;
    let Some(moto) = Moto::start() else { return };
    let t = support::mariadb::Target::new(["app", "app_clone"], "").await;
    let mut root = t.server.root().await.unwrap();
    root.query_drop("DROP USER `app_clone`@`%`").await.unwrap();
    // The master sets the clone's default role (UPDATE on mysql.* on MariaDB).
    root.query_drop(format!("GRANT UPDATE ON `mysql`.* TO `{ADMIN}`@`%`"))
        .await
        .unwrap();
    moto.create(
        "rds/maria-master",
        &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "engine": "mariadb",
                 "host": "127.0.0.1", "port": t.server.port}),
    )
    .await;
    moto.create(
        "rds/maria",
        &json!({"engine": "mariadb", "host": "127.0.0.1", "port": t.server.port, "dbname": "app",
                 "username": "app", "password": support::mariadb::INITIAL,
                 "masterarn": "rds/maria-master"}),
    )
    .await;
    let s = settings(&moto);
    let mut passwords = Vec::new();
    for (i, expected) in [(1, "app_clone"), (2, "app")] {
        let token = format!("{:032x}", 100 + i);
        moto.start_rotation("rds/maria", &token).await;
        for step in STEPS {
            invoke(step, "rds/maria", &token, &s)
                .await
                .unwrap_or_else(|e| panic!("rotation {i}, {step:?}: {e}"));
        }
        for which in ["AWSCURRENT", "AWSPREVIOUS"] {
            let doc = stage(&moto, "rds/maria", which).await;
            let (user, password) = (
                doc["username"].as_str().unwrap(),
                doc["password"].as_str().unwrap(),
            );
            assert!(
                t.server.can_login(user, password).await,
                "{which} ({user}) does not log in"
            );
            if which == "AWSCURRENT" {
                assert_eq!(user, expected);
                passwords.push(password.to_owned());
            }
        }
    }
    let logs = t.server.logs();
    for p in &passwords {
        assert!(
            !logs.contains(p.as_str()),
            "a password reached the server's logs"
        );
    }
}
