//! Failures between the database and the pooler: a crash before the
//! RELOAD converges on the next run; a refused password stops before publish.

use crate::common::{seesaw, setup};
use crate::support;

#[tokio::test]
async fn a_crash_between_the_database_and_the_pooler_converges_on_the_next_run() {
    let (t, bouncer) = setup("transaction", Some(true)).await;
    for crash_after in ["set_password", "update_poolers"] {
        let engine = t.engine().await;
        let err = engine
            .rotate(Default::default(), &support::fault::FailAfter(crash_after))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "interrupted", "{err}");
        drop(engine);
        let pending = t.read_store()["pending"].clone();
        assert!(
            pending.is_object(),
            "no pending version after a crash at {crash_after}"
        );

        let run = seesaw(&t, &["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "after a crash at {crash_after}: {}", run.all());
        let (user, password) = t.login("current");
        assert_eq!(user, pending["username"].as_str().unwrap());
        assert_eq!(password, pending["password"].as_str().unwrap());
        bouncer.login(&user, &password).await.unwrap_or_else(|e| {
            panic!("after a crash at {crash_after}, the published credential fails through PgBouncer: {e}")
        });
        let (previous, old) = t.login("previous");
        bouncer.login(&previous, &old).await.unwrap();
    }
}

#[tokio::test]
async fn a_pooler_that_refuses_the_new_password_stops_the_rotation_before_publish() {
    // Configured as auth_query while PgBouncer reads a file: seesaw writes
    // nothing, and the login through PgBouncer is what catches it.
    let (t, bouncer) = setup("transaction", Some(false)).await;
    let before = t.login("current");
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all()
            .contains(&format!("through pgbouncer 127.0.0.1:{}", bouncer.port)),
        "{}",
        run.all()
    );
    assert!(run.all().contains("nothing was published"), "{}", run.all());
    assert_eq!(
        t.login("current"),
        before,
        "published although PgBouncer refused it"
    );
    bouncer.login(&before.0, &before.1).await.unwrap();

    // With the file configured, the next run resumes and finishes.
    let mut t = t;
    t.database_extra = bouncer.config_lines(true);
    t.write_config();
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("resuming"), "{}", run.all());
    let (user, password) = t.login("current");
    assert_ne!(user, before.0);
    bouncer.login(&user, &password).await.unwrap();
}
