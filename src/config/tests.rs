//! The config's unit tests (a module of its own: config/ is split by
//! concern and the tests cover them all).
#![cfg(test)]

use super::*;

const GOOD: &str = r#"
targets:
  - name: demo
    database:
      engine: postgres
      host: 127.0.0.1
      port: 5432
      dbname: app
      tls: disable
      users: [app_a, app_b]
      admin:
        username: seesaw_admin
        password_env: SEESAW_ADMIN_PASSWORD
      standby_sessions: fail
    password: { length: 32 }
    store:
      file: { path: ./demo-secret.json }
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "seesaw.yaml", Path::new("/etc/seesaw"))
}

#[test]
fn mariadb_users_may_name_their_host_part_and_postgres_roles_keep_the_at() {
    let maria = GOOD
        .replace("engine: postgres", "engine: mariadb")
        .replace("      port: 5432\n", "")
        .replace("[app_a, app_b]", "[\"app_a@10.0.%\", app_b]");
    let c = parse(&maria).unwrap();
    let db = &c.targets[0].database;
    assert_eq!(db.users, ["app_a".to_string(), "app_b".to_string()]);
    assert_eq!(db.port, 3306);
    assert_eq!(db.host_of("app_a"), "10.0.%");
    assert_eq!(db.host_of("app_b"), "%");
    assert_eq!(db.host_of("app_a_clone"), "%");

    let e = parse(&maria.replace("app_a@10.0.%", "app_a@")).unwrap_err();
    assert_eq!(e.key, "database.users", "{e}");
    assert!(e.to_string().contains("name@host"), "{e}");
    // Two host parts of one name are one login name: not two users.
    let e = parse(&maria.replace("app_b]", "app_a@%]")).unwrap_err();
    assert!(e.to_string().contains("two different"), "{e}");
    // admin: self is MariaDB's; MySQL's caching_sha2 hash is not computed.
    let selfish = maria.replace(
        "admin:\n        username: seesaw_admin\n        password_env: SEESAW_ADMIN_PASSWORD",
        "admin: self",
    );
    parse(&selfish).unwrap();
    let e = parse(&selfish.replace("engine: mariadb", "engine: mysql")).unwrap_err();
    assert!(e.to_string().contains("caching_sha2"), "{e}");

    let pg = GOOD.replace("[app_a, app_b]", "[\"app_a@corp\", app_b]");
    let c = parse(&pg).unwrap();
    assert_eq!(c.targets[0].database.users[0], "app_a@corp");
}

#[test]
fn the_documented_example_parses() {
    let c = parse(GOOD).unwrap();
    let t = &c.targets[0];
    assert_eq!(t.database.users, ["app_a".to_string(), "app_b".to_string()]);
    assert_eq!(t.database.tls, TlsMode::Disable);
    assert_eq!(
        t.store,
        StoreConfig::File(FileStoreConfig {
            path: "/etc/seesaw/demo-secret.json".into()
        })
    );
    assert_eq!(t.database.standby_wait_timeout, Duration::from_secs(300));
}

#[test]
fn defaults_are_safe() {
    let text = GOOD.replace("      tls: disable\n", "");
    assert_eq!(
        parse(&text).unwrap().targets[0].database.tls,
        TlsMode::VerifyFull
    );
}

#[test]
fn admin_self_is_accepted() {
    let text = GOOD.replace(
        "admin:\n        username: seesaw_admin\n        password_env: SEESAW_ADMIN_PASSWORD",
        "admin: self",
    );
    assert_eq!(
        parse(&text).unwrap().targets[0].database.admin,
        AdminConfig::Itself
    );
    let bad = text.replace("admin: self", "admin: root");
    let e = parse(&bad).unwrap_err();
    assert_eq!(e.key, "database.admin");
    assert!(e.message.contains("expected `self`"), "{e}");
}

#[test]
fn poolers_parse_resolve_their_paths_and_explain_mistakes() {
    let with = |entry: &str| {
        GOOD.replace(
            "      standby_sessions: fail\n",
            &format!("      standby_sessions: fail\n      poolers:\n{entry}"),
        )
    };
    let c = parse(&with(
        "        - pgbouncer:\n            host: 10.0.0.6\n            admin: \
                { username: pgb, password_file: pgb.pw }\n            auth_file: userlist.txt\n",
    ))
    .unwrap();
    let b = &c.targets[0].database.poolers[0].pgbouncer;
    assert_eq!(b.port, 6432);
    assert_eq!(
        b.auth_file.as_deref(),
        Some(Path::new("/etc/seesaw/userlist.txt"))
    );
    assert_eq!(
        b.admin.password_file.as_deref(),
        Some(Path::new("/etc/seesaw/pgb.pw"))
    );

    let e = parse(&with("        - proxysql: { host: x }\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("database.poolers") && e.contains("pgbouncer"),
        "{e}"
    );
    let e = parse(&with(
        "        - pgbouncer: { host: x, port: 0, admin: { username: pgb, password_env: P } }\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("pgbouncer x:0: port"), "{e}");
    let e = parse(&with(
        "        - pgbouncer: { host: x, admin: { username: pgb } }\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("exactly one of `password_env` or `password_file`"),
        "{e}"
    );
}

#[test]
fn unknown_key_names_target_and_key() {
    let text = GOOD.replace(
        "      dbname: app\n",
        "      dbname: app\n      colour: red\n",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.target.as_deref(), Some("demo"));
    assert_eq!(e.key, "database.colour");
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    assert!(
        e.to_string()
            .starts_with("seesaw.yaml: target \"demo\": database.colour: "),
        "{e}"
    );
}

#[test]
fn cloud_stores_parse_and_their_mistakes_are_named() {
    let with =
        |store: &str| parse(&GOOD.replace("      file: { path: ./demo-secret.json }", store));
    let t = with("      gcp: { project: p, secret: app-db }").unwrap();
    assert_eq!(t.targets[0].store.backend(), "gcp");
    let t = with(
        "      azure: \
        { vault_url: \"https://v.vault.azure.net\", secret: app-db, ca_file: ca.pem }",
    )
    .unwrap();
    match &t.targets[0].store {
        StoreConfig::Azure(a) => {
            assert_eq!(a.ca_file.as_deref(), Some(Path::new("/etc/seesaw/ca.pem")))
        }
        other => panic!("{other:?}"),
    }
    let e = with("      gcp: { project: p, secret: projects/p/secrets/app-db }").unwrap_err();
    assert!(
        e.message.contains("put the project under gcp.project"),
        "{e}"
    );
    let e =
        with("      azure: { vault_url: \"http://v.vault.azure.net\", secret: s }").unwrap_err();
    assert!(e.message.contains("only speaks HTTPS"), "{e}");
    let e = with("      gcp: { project: p, secret: s }\n      aws: { secret_id: x }").unwrap_err();
    assert!(e.message.contains("got several"), "{e}");
    let e = with("      gcp: { project: p, secrt: s }").unwrap_err();
    assert!(e.to_string().contains("secrt"), "{e}");
    assert!(e.to_string().contains("target \"demo\""), "{e}");
}

#[test]
fn bad_enum_value_lists_the_choices() {
    let e = parse(&GOOD.replace("tls: disable", "tls: tsl")).unwrap_err();
    assert_eq!(e.key, "database.tls");
    assert!(e.message.contains("verify-full"), "{e}");
}

#[test]
fn validation_errors_name_the_key() {
    let cases = [
        (
            GOOD.replace("[app_a, app_b]", "[app_a, app_a]"),
            "database.users",
        ),
        (GOOD.replace("[app_a, app_b]", "[app_a]"), "database.users"),
        (GOOD.replace("length: 32", "length: 4"), "password"),
        (GOOD.replace("name: demo", "name: \"has space\""), "name"),
        (
            GOOD.replace("        password_env: SEESAW_ADMIN_PASSWORD\n", ""),
            "database.admin",
        ),
        (GOOD.replace("port: 5432", "port: 99999"), "database.port"),
    ];
    for (text, key) in cases {
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, key, "{e}");
    }
}

#[test]
fn schedule_keys_are_validated_and_misspellings_caught() {
    let daemon = format!(
        "defaults: {{ schedule: \"0 3 * * 0\", window: 2h }}\nconcurrency: {{ rotations: 8 }}\n{}",
        GOOD.trim_start()
    );
    let c = parse(&daemon).unwrap();
    assert_eq!(c.daemon.concurrency.rotations, 8);
    let s = c.targets[0]
        .schedule_config(&c.daemon.defaults)
        .build()
        .unwrap()
        .unwrap();
    assert_eq!(s.window, Duration::from_secs(7200));
    let e = parse(&daemon.replace("0 3 * * 0", "0 0 3 * * 0")).unwrap_err();
    assert_eq!(e.key, "defaults.schedule", "{e}");
    let e =
        parse(&GOOD.replace("    store:", "    schedule: \"61 * * * *\"\n    store:")).unwrap_err();
    assert_eq!(
        (e.target.as_deref(), e.key.as_str()),
        (Some("demo"), "schedule"),
        "{e}"
    );
    let e =
        parse(&GOOD.replace("    store:", "    schedul: \"0 3 * * 0\"\n    store:")).unwrap_err();
    assert!(e.to_string().contains("unknown field `schedul`"), "{e}");
    let e = parse(&format!("retries: {{}}\n{}", GOOD.trim_start())).unwrap_err();
    assert!(e.to_string().contains("unknown field `retries`"), "{e}");
}

#[test]
fn duplicate_names_and_empty_lists_are_rejected() {
    let body = GOOD.trim_start_matches("\ntargets:\n");
    let twice = format!("targets:\n{body}{body}");
    assert!(parse(&twice).unwrap_err().message.contains("unique"));
    assert!(parse("targets: []")
        .unwrap_err()
        .message
        .contains("at least one"));
    assert!(parse("nonsense: 1")
        .unwrap_err()
        .to_string()
        .contains("unknown field"));
    assert!(parse(": : :").is_err());
}

#[test]
fn yaml_mistakes_are_located_and_yes_is_not_a_boolean() {
    // YAML 1.1's `yes` is not `true` here (a surprise in a hand-written
    // file): `admin: yes` is refused as what it is, not read as a boolean.
    let admin = "      admin:\n        username: seesaw_admin\n        password_env: \
        SEESAW_ADMIN_PASSWORD\n";
    assert!(GOOD.contains(admin));
    let e = parse(&GOOD.replace(admin, "      admin: yes\n")).unwrap_err();
    assert_eq!(e.target.as_deref(), Some("demo"), "{e}");
    assert!(
        e.message.contains("`yes`") && !e.message.contains("boolean"),
        "{e}"
    );
    // A duplicate key names the target and where the second one is.
    let e = parse(&GOOD.replace("      port: 5432\n", "      port: 5432\n      port: 5433\n"))
        .unwrap_err();
    assert_eq!(e.target.as_deref(), Some("demo"), "{e}");
    assert!(
        e.message.contains("duplicate") && e.message.contains("line 8"),
        "{e}"
    );
    // A syntax error says where.
    let e = parse(&GOOD.replace("host: 127.0.0.1", "host: \"127.0.0.1")).unwrap_err();
    assert!(e.message.contains("line "), "{e}");
    // An empty file is named for what it lacks.
    let e = parse("# nothing yet\n").unwrap_err();
    assert!(e.message.contains("no targets"), "{e}");
}

#[test]
fn anchors_and_merge_keys_share_parts_between_targets() {
    let two = format!(
        "{}  - name: reports\n    database:\n      <<: *db\n      dbname: reports\n    \
            store:\n      file: {{ path: ./reports.json }}\n",
        GOOD.replace("    database:\n", "    database: &db\n")
    );
    let c = parse(&two).unwrap();
    assert_eq!(c.targets.len(), 2);
    assert_eq!(c.targets[1].database.dbname, "reports");
    assert_eq!(c.targets[1].database.users, c.targets[0].database.users);
    assert_eq!(c.targets[1].database.host, "127.0.0.1");
}

#[test]
fn a_list_key_with_nothing_after_it_is_an_empty_list() {
    let text = GOOD.replace(
        "    store:\n",
        "    kubernetes:\n      secrets:\n      workloads:\n    store:\n",
    );
    let c = parse(&text).unwrap();
    let k = c.targets[0].kubernetes.as_ref().unwrap();
    assert!(k.secrets.is_empty() && k.workloads.is_empty());
    let e = parse(&GOOD.replace("      users: [app_a, app_b]\n", "      users:\n")).unwrap_err();
    assert!(e.key.contains("users"), "{e}");
}

/// A daemon's config may name ten thousand targets (the parser's default
/// limit of 250,000 nodes refused the 8,064th of them).
#[test]
fn ten_thousand_targets_load() {
    let mut text = String::from("targets:\n");
    for i in 0..10_000 {
        text += &format!(
            "  - name: t{i}\n    database: {{ engine: postgres, host: db, dbname: app, tls: \
             disable, users: [u{i}_a, u{i}_b], admin: {{ username: seesaw_admin, password_env: \
             ADMIN }} }}\n    store: {{ file: {{ path: /s/t{i}.json }} }}\n"
        );
    }
    let config = Config::parse(&text, "many.yaml", Path::new("/")).unwrap();
    assert_eq!(config.targets.len(), 10_000);
}
