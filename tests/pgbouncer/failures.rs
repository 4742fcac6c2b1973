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
async fn a_pooler_reading_a_file_seesaw_is_not_told_of_is_refused_before_any_change() {
    // Configured as auth_query while PgBouncer checks the users against its
    // auth_file (SHOW CONFIG says which): the new password would be refused
    // there, so nothing changes and the message says what to set.
    let (t, bouncer) = setup("transaction", Some(false)).await;
    let before = t.login("current");
    let store_before = std::fs::read(&t.store).unwrap();
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    let said = format!(
        "checks [\"app_a\"] against its auth_file {}",
        bouncer.userlist.display()
    );
    assert!(run.all().contains(&said), "{}", run.all());
    assert!(run.all().contains("pgbouncer.auth_file"), "{}", run.all());
    assert_eq!(
        std::fs::read(&t.store).unwrap(),
        store_before,
        "the store changed"
    );
    assert!(
        !t.cluster.server_log().contains("PASSWORD 'SCRAM-SHA-256"),
        "a password was set"
    );
    bouncer.login(&before.0, &before.1).await.unwrap();
    let plan = seesaw(&t, &["check"]).await;
    assert!(plan.all().contains(&said), "{}", plan.all());

    // With the file configured, the next run rotates through PgBouncer.
    let mut t = t;
    t.database_extra = bouncer.config_lines(true);
    t.write_config();
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let (user, password) = t.login("current");
    assert_ne!(user, before.0);
    bouncer.login(&user, &password).await.unwrap();
}

/// Keeps a directory immutable (`chattr +i`: no entry can be created in
/// it, not even by root) until dropped.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(dir: &std::path::Path) -> Immutable {
        let out = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .output()
            .expect("chattr (e2fsprogs) runs");
        assert!(
            out.status.success(),
            "chattr +i {}: {} (this test needs a filesystem with the immutable attribute, such as ext4)",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Immutable(dir.to_owned())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

/// seesaw replaces the auth_file by renaming a new file over it; in a
/// directory where no file can be created, the rotation is refused
/// before any change (the file itself still opens for writing).
#[tokio::test]
async fn an_auth_file_in_a_directory_seesaw_cannot_write_is_refused_before_any_change() {
    let (t, bouncer) = setup("session", Some(true)).await;
    let dir = bouncer.userlist.parent().unwrap().to_owned();
    let (store, userlist) = (
        std::fs::read(&t.store).unwrap(),
        std::fs::read(&bouncer.userlist).unwrap(),
    );
    let locked = Immutable::set(&dir);
    let run = seesaw(&t, &["rotate", "demo"]).await;
    let check = seesaw(&t, &["check", "demo"]).await;
    drop(locked);
    assert_eq!(run.code, 3, "a gate: {}", run.all());
    for out in [&run.stderr, &check.stdout] {
        assert!(
            out.contains(&format!("cannot create a file in {}", dir.display())),
            "{out}"
        );
    }
    assert_eq!(check.code, 1, "{}", check.all());
    assert_eq!(std::fs::read(&t.store).unwrap(), store);
    assert_eq!(std::fs::read(&bouncer.userlist).unwrap(), userlist);
    assert!(t.logs_in("current").await);
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "the directory writable again: {}", run.all());
}
