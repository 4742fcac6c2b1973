//! Configuring seesaw for a pooler: what check and plan show for each one,
//! and a sidecar's userlist rendered from the secret template.

use crate::common::{seesaw, setup};
use crate::support::pgbouncer::{self, PgBouncer};

#[tokio::test]
async fn check_and_plan_show_each_pooler_and_whether_seesaw_can_use_it() {
    let (t, bouncer) = setup("session", Some(true)).await;
    let check = seesaw(&t, &["check", "demo"]).await;
    assert_eq!(check.code, 0, "{}", check.all());
    let out = check.all();
    assert!(
        out.contains(&format!("pgbouncer 127.0.0.1:{}", bouncer.port)),
        "{out}"
    );
    assert!(out.contains("auth_file"), "{out}");
    assert!(out.contains("PgBouncer 1."), "{out}");
    assert!(out.contains("writable"), "{out}");
    // app_b has no password yet, so no line: said, not fatal.
    assert!(out.contains("no line yet for [\"app_b\"]"), "{out}");

    let plan = seesaw(&t, &["plan", "demo"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.all().contains("auth_files and reload them"),
        "{}",
        plan.all()
    );

    // A wrong admin password: check fails and names the pooler and the fix.
    let wrong = t
        .seesaw_with(
            &["check", "demo"],
            &[("TEST_PGBOUNCER_PASSWORD", Some("nope".as_ref()))],
        )
        .await;
    assert_ne!(wrong.code, 0, "{}", wrong.all());
    assert!(
        wrong.all().contains("cannot use its admin console"),
        "{}",
        wrong.all()
    );
    assert!(wrong.all().contains("admin_users"), "{}", wrong.all());
    let rotate = t
        .seesaw_with(
            &["rotate", "demo"],
            &[("TEST_PGBOUNCER_PASSWORD", Some("nope".as_ref()))],
        )
        .await;
    assert_ne!(rotate.code, 0);
    assert!(t.read_store()["previous"].is_null(), "a rotation happened");

    // An unset admin password variable is a config error naming the key.
    let unset = t
        .seesaw_with(&["check", "demo"], &[("TEST_PGBOUNCER_PASSWORD", None)])
        .await;
    assert_ne!(unset.code, 0);
    assert!(
        unset
            .all()
            .contains("database.poolers[0].pgbouncer.admin.password_env"),
        "{}",
        unset.all()
    );
}

#[tokio::test]
async fn a_sidecar_userlist_rendered_from_the_secret_template_logs_in() {
    // A PgBouncer sidecar per pod reads userlist.txt from the Kubernetes
    // Secret seesaw writes; the example's template renders it from the
    // published document (plaintext: PgBouncer then does SCRAM to the
    // server itself). Rendered here for the store's current credential and
    // given to a real PgBouncer.
    let (t, _central) = setup("session", None).await;
    assert_eq!(seesaw(&t, &["rotate", "demo"]).await.code, 0);
    let example = seesaw::config::Config::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pgbouncer.yaml"),
    )
    .unwrap();
    let sidecar = example
        .targets
        .iter()
        .find_map(|t| t.kubernetes.as_ref())
        .expect("the example has a sidecar target");
    let templates = sidecar.secrets[0].data.as_ref().unwrap();
    let document =
        seesaw::secret::SecretDocument::from_value(t.read_store()["current"].clone()).unwrap();
    let rendered = seesaw::templates::render(Some(templates), &document).unwrap();
    let userlist = format!(
        "{}\n\"{}\" \"{}\"\n",
        rendered["userlist.txt"],
        pgbouncer::ADMIN,
        pgbouncer::ADMIN_PASSWORD
    );
    let bouncer = PgBouncer::start_with(&t.cluster, &userlist, "transaction", "").await;
    let (user, password) = t.login("current");
    bouncer.login(&user, &password).await.unwrap();
    assert!(bouncer.login(&user, "wrong").await.is_err());
}
