//! `seesaw setup-sql`: the recommended role layout as SQL.
//!
//! A NOLOGIN owner role owns the application's objects; the two login roles
//! are its members and switch to it on login (`SET role`), so objects are
//! never owned by one of the alternating users and both see the same
//! privileges.

#[cfg(feature = "mysql")]
mod mariadb;

use crate::config::{AdminConfig, Engine, SessionPolicy, TargetConfig};
use postgres_protocol::escape::{escape_identifier as ident, escape_literal as literal};

pub fn render(t: &TargetConfig) -> String {
    match t.database.engine {
        Engine::Postgres => postgres(t),
        #[cfg(feature = "mysql")]
        Engine::Mariadb | Engine::Mysql => mariadb::render(t),
        #[cfg(not(feature = "mysql"))]
        Engine::Mariadb | Engine::Mysql => {
            "-- this seesaw was built without MySQL/MariaDB support (cargo feature `mysql`)\n"
                .into()
        }
    }
}

fn postgres(t: &TargetConfig) -> String {
    let db = &t.database;
    let owner = db.owner();
    let [a, b] = &db.users;
    let mut sql = format!(
        "-- seesaw: roles for target \"{name}\" on database {dbname}.\n\
         -- Run as a superuser connected to that database, e.g.\n\
         --   seesaw setup-sql {name} | psql -h {host} -p {port} -U postgres -d {dbname_arg}\n\n\
         -- The owner of the application's objects; nobody logs in as it.\n\
         CREATE ROLE {o} NOLOGIN;\n\
         GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {d} TO {o};\n\
         GRANT USAGE, CREATE ON SCHEMA public TO {o};\n\n\
         -- The two login roles that alternate. Each switches to the owner on\n\
         -- login, so what it creates belongs to the owner.\n",
        name = t.name,
        dbname = ident(&db.dbname),
        dbname_arg = shell_word(&db.dbname),
        host = db.host,
        port = db.port,
        o = ident(&owner),
        d = ident(&db.dbname),
    );
    for user in [a, b] {
        sql += &format!(
            "CREATE ROLE {u} LOGIN IN ROLE {o};\nALTER ROLE {u} SET role = {ol};\n",
            u = ident(user),
            o = ident(&owner),
            ol = literal(&owner),
        );
    }
    match &db.admin {
        AdminConfig::Login(admin) => {
            sql += &format!(
                "\n-- The admin seesaw logs in as: allowed to change the two users' passwords.\n\
                 CREATE ROLE {adm} LOGIN CREATEROLE;\n\
                 -- PostgreSQL 16 and later also require ADMIN OPTION on each role it alters\n\
                 -- (and on the owner, for memberships: fix). INHERIT FALSE and SET FALSE\n\
                 -- keep the admin from using the roles' privileges. Older versions neither\n\
                 -- need nor parse these grants, hence the version check.\n\
                 {block}",
                adm = ident(&admin.username),
                block = pg16_admin_grants(&[a, b, &owner], &admin.username),
            );
            if db.standby_sessions == SessionPolicy::Terminate {
                sql += &format!(
                    "-- standby_sessions: terminate ends the standby's sessions:\nGRANT \
                        pg_signal_backend TO {};\n",
                    ident(&admin.username)
                );
            }
            sql += &format!(
                "-- Set its password without it reaching the server log: in psql, \\password {}\n",
                admin.username
            );
        }
        AdminConfig::Itself => {
            sql +=
                "\n-- admin: self: each user changes its own password; no admin role is needed.\n";
        }
    }
    sql += &format!(
        "\n-- Finally give {a:?} a password (psql: \\password {a}) and write it to the store\n\
         -- as the current document, e.g. for the file store:\n\
         --   {{\"current\": {{\"username\": {a:?}, \"password\": \"...\"}}}}\n\
         -- The first rotation then sets {b:?}'s password; {a:?}'s is never changed by adoption.\n"
    );
    sql
}

/// A DO block that, on PostgreSQL 16+, grants `admin` ADMIN OPTION (and
/// nothing else) on each of `roles`. The statements are literals inside a
/// dollar-quoted body whose tag appears nowhere in it, so no role name can
/// end the body early.
fn pg16_admin_grants(roles: &[&String], admin: &str) -> String {
    let body: String = roles
        .iter()
        .map(|role| {
            let grant = format!(
                "GRANT {} TO {} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE",
                ident(role),
                ident(admin)
            );
            format!("    EXECUTE {};\n", literal(&grant))
        })
        .collect();
    let body = format!(
        "BEGIN\n  IF current_setting('server_version_num')::int >= 160000 THEN\n{body}  END \
            IF;\nEND\n"
    );
    let mut tag = "seesaw".to_owned();
    while body.contains(&format!("${tag}$")) {
        tag.push('_');
    }
    format!("DO ${tag}$\n{body}${tag}$;\n")
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn identifiers_are_quoted_by_the_driver() {
        let text = r#"
targets:
  - name: odd
    database:
      engine: postgres
      host: localhost
      dbname: app
      users: ["we\"ird", "Space Man"]
      admin: self
    store: { file: { path: x.json } }
"#;
        let c = Config::parse(text, "t.yaml", Path::new(".")).unwrap();
        let sql = render(&c.targets[0]);
        assert!(
            sql.contains(r#"CREATE ROLE "we""ird" LOGIN IN ROLE "app_owner";"#),
            "{sql}"
        );
        assert!(sql.contains(r#"CREATE ROLE "Space Man" LOGIN"#));
        assert!(sql.contains("ALTER ROLE \"Space Man\" SET role = 'app_owner';"));
        assert!(sql.contains("no admin role is needed"));
    }

    #[test]
    fn a_role_name_cannot_end_the_pg16_block_early() {
        let users = ["x$seesaw$y".to_owned(), "b".to_owned()];
        let block = pg16_admin_grants(&[&users[0], &users[1]], "adm");
        assert!(block.starts_with("DO $seesaw_$\n"), "{block}");
        assert!(block.trim_end().ends_with("$seesaw_$;"), "{block}");
        assert_eq!(block.matches("$seesaw_$").count(), 2, "{block}");
    }
}
