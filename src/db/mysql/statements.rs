//! The `Session` trait on MariaDB: the statements seesaw runs (the probe,
//! GET_LOCK, the account and grant reads, and the account changes).

use super::grants;
use super::session::{lock_name, scrub, MySession};
use crate::config::Engine;
use crate::db::{DbError, RoleCopy, Session};
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;

#[async_trait]
impl Session for MySession {
    async fn probe(&mut self) -> Result<String, DbError> {
        // The account the server matched (`user@host`): an anonymous
        // account that shadows `'u'@'%'` shows up here as `@localhost`.
        let who: Option<String> = self
            .conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .map_err(|e| self.error("run the probe query".into(), e))?;
        let who = who.unwrap_or_default();
        Ok(who
            .rsplit_once('@')
            .map(|(u, _)| u.to_owned())
            .unwrap_or(who))
    }

    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let got: Option<Option<i64>> = self
            .conn
            .query_first(format!("SELECT GET_LOCK('{}', 0)", lock_name(key)))
            .await
            .map_err(|e| self.error("take the target's lock (GET_LOCK)".into(), e))?;
        match got.flatten() {
            Some(1) => Ok(true),
            Some(_) => Ok(false),
            None => Err(DbError::Query {
                db: self.db.clone(),
                doing: "take the target's lock (GET_LOCK)".into(),
                reason: "GET_LOCK returned NULL (Galera clusters reject GET_LOCK; seesaw needs it)"
                    .into(),
            }),
        }
    }

    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        let held: Option<Option<i64>> = self
            .conn
            .query_first(format!(
                "SELECT IS_USED_LOCK('{}') = CONNECTION_ID()",
                lock_name(key)
            ))
            .await
            .map_err(|e| self.error("check the target's lock".into(), e))?;
        Ok(held.flatten() == Some(1))
    }

    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        self.run(
            "release the target's lock".into(),
            format!("DO RELEASE_LOCK('{}')", lock_name(key)),
        )
        .await
    }

    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError> {
        let n: Option<i64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?",
                (role, self.config.host_of(role)),
            )
            .await
            .map_err(|e| {
                let doing = format!("look up account {}", self.account(role));
                self.error(doing, e)
            })?;
        Ok(n.unwrap_or(0) > 0)
    }

    /// The connections of every account named `role`, whatever its host
    /// part: the process list shows the user name, not the account matched.
    /// (Other accounts of the name are refused by the admin gate.)
    async fn sessions_of(&mut self, role: &str) -> Result<BTreeSet<i64>, DbError> {
        let ids: Vec<u64> = self
            .conn
            .exec(
                // BINARY: the column's collation is case- and accent-
                // insensitive, and `APP_B` is another account.
                "SELECT ID FROM information_schema.PROCESSLIST WHERE BINARY USER = ? AND ID <> \
                    CONNECTION_ID()",
                (role,),
            )
            .await
            .map_err(|e| self.error(format!("count sessions of {role:?}"), e))?;
        Ok(ids.into_iter().map(|id| id as i64).collect())
    }

    async fn terminate_sessions_of(&mut self, role: &str) -> Result<u64, DbError> {
        let ids = self.sessions_of(role).await?;
        let mut ended = 0;
        for id in ids {
            match self.conn.query_drop(format!("KILL CONNECTION {id}")).await {
                Ok(()) => ended += 1,
                // Ended meanwhile.
                Err(mysql_async::Error::Server(s)) if s.code == 1094 => ended += 1,
                Err(e) => return Err(self.error(format!("end session {id} of {role:?}"), e)),
            }
        }
        Ok(ended)
    }

    async fn memberships(&mut self, role: &str) -> Result<BTreeSet<String>, DbError> {
        // As for a PostgreSQL role that does not exist: nothing.
        Ok(self
            .grants_of(role)
            .await?
            .map(|(set, _)| set)
            .unwrap_or_default())
    }

    async fn cannot_set_password_of(&mut self, role: &str) -> Result<Option<String>, DbError> {
        if self.config.engine == Engine::Mysql {
            return Ok(Some(
                "engine: mysql: seesaw cannot yet set a MySQL 8 password without \
                sending it in plaintext (caching_sha2_password needs a client-side SHA-256-crypt \
                    hash, which seesaw does not compute, and no MySQL 8 server was available to \
                        test one); see docs/mysql.md. MariaDB is supported (engine: \
                            mariadb)"
                    .into(),
            ));
        }
        // Clients that match another host part of the same user (say
        // 'app_b'@'10.0.%' beside 'app_b'@'%') authenticate against that account, which seesaw
        // does not rotate: they would keep the old password.
        let hosts: Vec<String> = self
            .conn
            .exec(
                "SELECT Host FROM mysql.user WHERE User = ? AND Host <> ?",
                (role, self.config.host_of(role)),
            )
            .await
            .map_err(|e| self.error(format!("look up the accounts of {role:?}"), e))?;
        if !hosts.is_empty() {
            let others: Vec<String> = hosts.iter().map(|h| grants::account(role, h)).collect();
            return Ok(Some(format!(
                "{role:?} also exists as {}: clients from those hosts authenticate against them, \
                    and seesaw rotates {} only, so they would be locked out at the next \
                        rotation. Drop those accounts (or rename them), then run again",
                others.join(", "),
                self.account(role)
            )));
        }
        let lines: Vec<String> = self
            .conn
            .query("SHOW GRANTS FOR CURRENT_USER()")
            .await
            .map_err(|e| self.error("read the admin's grants".into(), e))?;
        let who: Option<String> = self
            .conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .map_err(|e| self.error("read the admin's account".into(), e))?;
        let who = who.unwrap_or_default();
        let (user, host) = who.rsplit_once('@').unwrap_or((who.as_str(), "%"));
        let admin = grants::account(user, host);
        let global: Vec<&String> = lines.iter().filter(|l| l.contains(" ON *.* TO ")).collect();
        let has = |privilege: &str| {
            global.iter().any(|l| {
                l.starts_with("GRANT ALL PRIVILEGES ON *.*")
                    || l.split(" ON *.* TO ").next().is_some_and(|p| {
                        p.split(", ")
                            .any(|x| x.trim_start_matches("GRANT ") == privilege)
                    })
            })
        };
        let mut missing = Vec::new();
        if !has("CREATE USER") {
            missing.push(format!("GRANT CREATE USER ON *.* TO {admin}"));
        }
        if !has("PROCESS") {
            missing.push(format!(
                "GRANT PROCESS ON *.* TO {admin} (without it the server hides \
                other users' sessions, and the standby gate would see none)"
            ));
        }
        let reads_mysql = has("SELECT")
            || lines
                .iter()
                .any(|l| l.starts_with("GRANT SELECT") && l.contains(" ON `mysql`.* TO "));
        if !reads_mysql {
            missing.push(format!(
                "GRANT SELECT ON `mysql`.* TO {admin} (to read the accounts and their grants)"
            ));
        }
        Ok((!missing.is_empty()).then(|| {
            format!(
                "the admin {admin} lacks what a rotation needs: {}",
                missing.join("; ")
            )
        }))
    }

    async fn grant_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let sql = grants::grant(group, &self.account(role));
        self.run(format!("give {role:?} {group}"), sql).await
    }

    async fn revoke_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let sql = grants::revoke(group, &self.account(role));
        self.run(format!("take {group} from {role:?}"), sql).await
    }

    async fn set_password(
        &mut self,
        role: &str,
        password: &SecretString,
    ) -> Result<SecretString, DbError> {
        let account = self.account(role);
        let (_, plugin) = self.existing_grants_of(role).await?;
        let (clause, stored) = MySession::identified(&plugin, password.expose_secret().as_bytes())
            .map_err(|message| DbError::Setup {
                db: self.db.clone(),
                message: format!("{account}: {message}"),
            })?;
        // `admin: self`: ALTER USER needs CREATE USER even for one's own
        // account, SET PASSWORD needs nothing, and takes the hash of the
        // account's own plugin (both native and ed25519, MariaDB 10.4+).
        let sql = if role == self.user {
            format!("SET PASSWORD = '{stored}'")
        } else {
            format!("ALTER USER {account} {clause}")
        };
        self.run(format!("set the password of {account}"), sql)
            .await
            .map_err(|e| scrub(e, &stored))?;
        Ok(SecretString::from(stored))
    }

    async fn create_login_role_like(
        &mut self,
        role: &str,
        like: &str,
    ) -> Result<RoleCopy, DbError> {
        // Account statements commit one by one: the account is created
        // locked with a hash of random bytes nobody knows (an account
        // without one would accept an empty password), gets the grants,
        // and is unlocked last. A failure on the way drops it again.
        let (lines, plugin) = self.existing_grants_of(like).await?;
        let account = self.account(role);
        let unknowable: [u8; 32] = crate::password::os_random();
        let (clause, stored) =
            MySession::identified(&plugin, &unknowable).map_err(|message| DbError::Setup {
                db: self.db.clone(),
                message: format!("{}: {message}", self.account(like)),
            })?;
        self.run(
            format!("create {account} like {like:?}"),
            format!("CREATE USER {account} {clause} ACCOUNT LOCK"),
        )
        .await
        .map_err(|e| scrub(e, &stored))?;
        let mut copied = 0;
        let mut result = Ok(());
        for line in &lines {
            result = self
                .run(
                    format!("give {account} {line}"),
                    grants::grant(line, &account),
                )
                .await;
            if result.is_err() {
                break;
            }
            copied += 1;
        }
        if result.is_ok() {
            result = self
                .run(
                    format!("unlock {account}"),
                    format!("ALTER USER {account} ACCOUNT UNLOCK"),
                )
                .await;
        }
        if let Err(e) = result {
            let _ = self.conn.query_drop(format!("DROP USER {account}")).await;
            return Err(e);
        }
        Ok(RoleCopy {
            memberships: copied,
            settings: 0,
        })
    }
}
