//! TLS to the database: `verify-full` checks the chain and the host name,
//! `require` encrypts without checking, and neither ever falls back to
//! plaintext. The TLS cluster rejects non-TLS logins of the app roles, so a
//! successful rotation proves its logins were encrypted.

mod support;

use support::pg::Cluster;
use support::seesaw::Target;
use support::tls::TestCa;

async fn tls_target(ca: &TestCa) -> Target {
    Target::on(Cluster::start_tls(ca), ["app_a", "app_b"]).await
}

#[tokio::test]
async fn verify_full_with_the_right_ca_rotates_over_tls() {
    let ca = TestCa::new(&["127.0.0.1", "localhost"]);
    let mut t = tls_target(&ca).await;
    // Without TLS the app roles are turned away: the cluster really enforces it.
    assert!(!t.logs_in("current").await);
    let ca_file = t.cluster.dir().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    t.tls = format!("tls: verify-full\n      ca_file: {}", ca_file.display());
    t.write_config();
    for expected in ["app_b", "app_a"] {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        assert_eq!(t.login("current").0, expected);
    }
}

#[tokio::test]
async fn verify_full_rejects_an_unknown_ca_and_a_wrong_host_name() {
    let ca = TestCa::new(&["db.example.test"]);
    let mut t = tls_target(&ca).await;
    let other = TestCa::new(&["127.0.0.1"]);
    let other_file = t.cluster.dir().join("other-ca.pem");
    std::fs::write(&other_file, &other.ca_pem).unwrap();
    let right_file = t.cluster.dir().join("ca.pem");
    std::fs::write(&right_file, &ca.ca_pem).unwrap();
    for (ca_file, expected) in [
        (&other_file, "invalid peer certificate"),
        (&right_file, "not valid for name \"127.0.0.1\""),
    ] {
        t.tls = format!("tls: verify-full\n      ca_file: {}", ca_file.display());
        t.write_config();
        let before = std::fs::read(&t.store).unwrap();
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(
            run.stderr.contains(expected),
            "expected {expected}: {}",
            run.stderr
        );
        assert_eq!(std::fs::read(&t.store).unwrap(), before);
    }
}

#[tokio::test]
async fn require_encrypts_without_checking_the_certificate() {
    let ca = TestCa::new(&["db.example.test"]);
    let mut t = tls_target(&ca).await;
    t.tls = "tls: require".into();
    t.write_config();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(t.login("current").0, "app_b");
}

#[tokio::test]
async fn require_never_falls_back_to_plaintext() {
    let mut t = Target::new(["app_a", "app_b"]).await; // this server has no TLS
    t.tls = "tls: require".into();
    t.write_config();
    let before = std::fs::read(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.to_lowercase().contains("tls"), "{}", run.stderr);
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
}

#[tokio::test]
async fn an_unreadable_ca_file_is_a_clear_error() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.tls = "tls: verify-full\n      ca_file: /nonexistent/ca.pem".into();
    t.write_config();
    let run = t.seesaw(&["check"]).await;
    assert_ne!(run.code, 0);
    assert!(
        run.all()
            .contains("cannot read database.ca_file /nonexistent/ca.pem"),
        "{}",
        run.all()
    );
}
