//! What a run finds left behind: a broken current credential, a locked
//! standby row, and pending versions from a killed run or another writer.

use crate::common::{credential, logs_in, on_moto, open};
use crate::support;
use crate::support::seesaw::Target;
use secrecy::{ExposeSecret, SecretString};
use seesaw::secret::Credential;
use seesaw::store::SecretStore;

/// Rollback needs only the previous credential: it repairs a broken current.
#[tokio::test]
async fn rollback_repairs_a_broken_current_credential() {
    let t = Target::new(["app_a", "app_b"]).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    // Someone changed app_b's password behind seesaw's back.
    t.set_password("app_b", "changed-by-hand-1").await;
    let rotate = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(rotate.code, 1, "{}", rotate.all());
    assert!(
        rotate
            .stderr
            .contains("The previous version logs in: `seesaw rollback demo`"),
        "{}",
        rotate.stderr
    );
    let rollback = t.seesaw(&["rollback", "demo"]).await;
    assert_eq!(rollback.code, 0, "{}", rollback.all());
    assert_eq!(t.login("current").0, "app_a");
    assert!(t.logs_in("current").await);
    // With neither credential working, the hint says so instead.
    t.set_password("app_a", "changed-by-hand-2").await;
    let rotate = t.seesaw(&["rotate", "demo"]).await;
    assert!(
        rotate.stderr.contains("does not log in either"),
        "{}",
        rotate.stderr
    );
}

/// An open transaction holding the standby's pg_authid row would make
/// ALTER ROLE wait forever: lock_timeout ends it, naming the blocker, and
/// the rerun (once the transaction ends) finishes with the same pending.
#[tokio::test]
async fn a_locked_standby_row_fails_fast_naming_the_blocker() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      lock_timeout: 1s\n".into();
    t.write_config();
    let blocker = t.hold_row_of("app_b").await;
    let started = std::time::Instant::now();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(run.stderr.contains("lock_timeout"), "{}", run.stderr);
    assert!(run.stderr.contains("migration-tool"), "{}", run.stderr);
    assert!(!run.stderr.contains(", )"), "an empty item: {}", run.stderr);
    let pending = t.read_store()["pending"].clone();
    assert_eq!(pending["username"], "app_b");
    assert!(t.logs_in("current").await, "I1");
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(t.read_store()["current"]["password"], pending["password"]);
    assert!(t.logs_in("previous").await);
}

/// Writes `user`'s credential as the store's pending version, as a run
/// killed right after staging (or another tool) would leave it.
pub async fn stage(store: &dyn SecretStore, user: &str, password: &str, token: &str) {
    let state = store.read().await.unwrap();
    let document = state.current.document.with_credential(&Credential::new(
        user,
        SecretString::from(password.to_owned()),
    ));
    store
        .stage(seesaw::store::PublishRequest {
            document: &document,
            replaces: &state.current.version,
            token,
        })
        .await
        .unwrap();
}

/// Issue item 1: killed after PutSecretValue (staged AWSPENDING) and before
/// UpdateSecretVersionStage. The rerun finishes that version with its own
/// password, and AWSPREVIOUS keeps logging in.
#[tokio::test]
async fn aws_a_version_left_pending_by_a_killed_run_is_finished_with_its_password() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "left/app").await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0); // app_b current, app_a previous
    let aws = open(&store).await;
    // What the killed run had written: app_a's next credential, pending,
    // with a password the policy generated.
    let left = seesaw::password::PasswordPolicy::default().generate();
    stage(
        aws.as_ref(),
        "app_a",
        left.expose_secret(),
        "77777777777777777777777777777777",
    )
    .await;
    for rerun in 0..2 {
        let run = t.seesaw(&["rotate", "demo", "--now"]).await;
        assert_eq!(run.code, 0, "rerun {rerun}: {}", run.all());
        let now = aws.read().await.unwrap();
        assert!(now.pending.is_none());
        assert!(logs_in(&t, &credential(&now.current)).await);
        assert!(logs_in(&t, &credential(now.previous.as_ref().unwrap())).await);
        if rerun == 0 {
            assert_eq!(
                credential(&now.current).password.expose_secret(),
                left.expose_secret(),
                "the rerun resumed the pending version instead of setting another password"
            );
        }
    }
}

/// A pending version seesaw cannot explain (for the active user, or
/// registered by RotateSecret without a value) is refused before the
/// database changes, with the command that clears it.
#[tokio::test]
async fn aws_a_foreign_pending_version_is_refused_before_any_change() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "foreign/app").await;
    let aws = open(&store).await;
    stage(
        aws.as_ref(),
        "app_a",
        "someone-else-Password-8",
        "88888888888888888888888888888888",
    )
    .await;
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("seesaw cannot explain it"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("update-secret-version-stage --secret-id foreign/app --version-stage AWSPENDING --remove-from-version-id 88888888888888888888888888888888"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains("someone-else-Password-8"));
    assert!(!t.cluster.server_log().contains("PASSWORD 'SCRAM-SHA-256"));
    // Cleared as told, the next run rotates.
    moto.client()
        .await
        .update_secret_version_stage()
        .secret_id("foreign/app")
        .version_stage("AWSPENDING")
        .remove_from_version_id("88888888888888888888888888888888")
        .send()
        .await
        .unwrap();
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    // A value-less AWSPENDING (RotateSecret registering a rotation for a
    // Lambda) cannot be resumed either: reported, never overwritten.
    moto.start_rotation("foreign/app", "99999999999999999999999999999999")
        .await;
    let run = t.seesaw(&["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("--remove-from-version-id 99999999999999999999999999999999"),
        "{}",
        run.stderr
    );
    let alter_roles = t
        .cluster
        .server_log()
        .matches("PASSWORD 'SCRAM-SHA-256")
        .count();
    assert_eq!(alter_roles, 1, "only the one rotation changed a password");
}
