//! `seesaw setup-sql` for MariaDB: a role holding the application's
//! privileges, granted to both accounts as their default role (so the two
//! accounts stay equal: one grant to change, not two), and the least
//! privileged admin seesaw needs.

use crate::config::{AdminConfig, SessionPolicy, TargetConfig};

/// `` `name` `` with backticks doubled.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn account(user: &str, host: &str) -> String {
    format!("{}@{}", ident(user), ident(host))
}

/// A mysql_native_password hash of 32 random bytes: an account created
/// with it has a password nobody knows (one created without any would
/// accept an empty password).
fn unknowable_hash() -> String {
    let bytes: [u8; 32] = crate::password::os_random();
    crate::db::mysql_native_hash(&bytes)
}

pub fn render(t: &TargetConfig) -> String {
    let db = &t.database;
    let owner = db.owner();
    let [a, b] = &db.users;
    let mut sql = format!(
        "-- seesaw: accounts for target \"{name}\" on {engine} {host}:{port}, database {d}.\n\
         -- Run as an administrator, e.g.\n\
         --   seesaw setup-sql {name} | mariadb -h {host} -P {port} -u root -p\n\n\
         -- The application's privileges, held by a role both accounts use by default.\n\
         CREATE ROLE {o};\n\
         GRANT ALL PRIVILEGES ON {dg}.* TO {o};\n\n\
         -- The two accounts that alternate, created with a password nobody knows.\n",
        name = t.name,
        engine = db.engine.name(),
        host = db.host,
        port = db.port,
        d = ident(&db.dbname),
        // In a database-level GRANT `_` and `%` are wildcards: escaped, the
        // grant covers this database only.
        dg = ident(&db.dbname.replace('_', "\\_").replace('%', "\\%")),
        o = ident(&owner),
    );
    for user in [a, b] {
        sql += &format!(
            "CREATE USER {u} IDENTIFIED BY PASSWORD '{h}';\nGRANT {o} TO {u};\nSET DEFAULT ROLE \
                {o} FOR {u};\n",
            u = account(user, db.host_of(user)),
            h = unknowable_hash(),
            o = ident(&owner),
        );
    }
    if let AdminConfig::Login(admin) = &db.admin {
        let adm = account(&admin.username, "%");
        sql += &format!(
            "\n-- The admin seesaw logs in as. CREATE USER lets it set the two accounts'\n\
             -- passwords, and on MariaDB also every other account's, root included\n\
             -- (MariaDB has nothing like MySQL's SYSTEM_USER protection): keep its\n\
             -- password in a secret store and limit the hosts it may log in from.\n\
             -- PROCESS lets it see other users' sessions (without it the server hides\n\
             -- them and the standby gate would see none); SELECT on mysql.* lets it\n\
             -- read the accounts and their grants (parity).\n\
             CREATE USER {adm} IDENTIFIED BY PASSWORD '{h}';\n\
             GRANT CREATE USER, PROCESS ON *.* TO {adm};\n\
             GRANT SELECT ON `mysql`.* TO {adm};\n\
             -- memberships: fix replays grants: the admin must hold them to give them.\n\
             GRANT {o} TO {adm} WITH ADMIN OPTION;\n",
            h = unknowable_hash(),
            o = ident(&owner),
        );
        if db.standby_sessions == SessionPolicy::Terminate {
            sql += &format!(
                "-- standby_sessions: terminate ends the standby's connections (KILL CONNECTION):\n\
                 GRANT CONNECTION ADMIN ON *.* TO {adm};\n"
            );
        }
        sql += &format!(
            "-- Set its password so that the plaintext does not reach the general log or\n\
             -- the binlog: ALTER USER {adm} IDENTIFIED BY PASSWORD '<hash>', where <hash>\n\
             -- is SELECT PASSWORD('...') run on a server without logging, or set it with\n\
             -- the logs off.\n"
        );
    }
    if db.admin == AdminConfig::Itself {
        sql += &format!(
            "\n-- admin: self: each account sets its own password (SET PASSWORD = '<hash>',\n\
             -- which needs no privilege) and sees only its own sessions, so seesaw logs in\n\
             -- as the standby to count them: the store must hold both credentials. Give\n\
             -- both accounts a password without it reaching the logs (ALTER USER ...\n\
             -- IDENTIFIED BY PASSWORD '<hash>', <hash> from SELECT PASSWORD('...') on a\n\
             -- server without logging) and write both to the store, e.g.:\n\
             --   {{\"current\": {{\"username\": {a:?}, \"password\": \"...\"}},\n\
             --    \"previous\": {{\"username\": {b:?}, \"password\": \"...\"}}}}\n"
        );
        return sql;
    }
    sql += &format!(
        "\n-- Finally give {a:?} a password the same way and write it to the store as the\n\
         -- current document, e.g. for the file store:\n\
         --   {{\"current\": {{\"username\": {a:?}, \"password\": \"...\"}}}}\n\
         -- The first rotation then sets {b:?}'s password.\n"
    );
    sql
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn names_are_quoted_and_the_database_grant_is_not_a_pattern() {
        let text = r#"
targets:
  - name: odd
    database:
      engine: mariadb
      host: localhost
      dbname: my_app%db
      users: ["we`ird", "b'q"]
      admin: { username: adm, password_env: X }
    store: { file: { path: x.json } }
"#;
        let c = Config::parse(text, "t.yaml", Path::new(".")).unwrap();
        let sql = super::render(&c.targets[0]);
        assert!(
            sql.contains("GRANT ALL PRIVILEGES ON `my\\_app\\%db`.* TO `my_app%db_owner`;"),
            "{sql}"
        );
        assert!(
            sql.contains("CREATE USER `we``ird`@`%` IDENTIFIED BY PASSWORD '*"),
            "{sql}"
        );
        assert!(sql.contains("CREATE USER `b'q`@`%`"), "{sql}");
        // Every account gets its own unknowable hash.
        let hashes: std::collections::BTreeSet<&str> = sql
            .match_indices("PASSWORD '*")
            .map(|(i, _)| &sql[i + 10..i + 51])
            .collect();
        assert_eq!(hashes.len(), 3, "{sql}");
    }
}
