//! The engine-neutral view of a test target, so one suite
//! (tests/engines.rs) runs the same scenarios against PostgreSQL and
//! MariaDB.

use super::seesaw::Run;
use async_trait::async_trait;
use serde_json::Value;
use std::any::Any;

/// A session or lock holder: open while it lives.
pub type Held = Box<dyn Any + Send>;

#[async_trait]
pub trait TestTarget: Send + Sync + Sized {
    /// A fresh server with the pair `users`, `users[0]` current, the
    /// config's database section extended by `extra` lines.
    async fn create(users: [&str; 2], extra: &str) -> Self;
    fn config_path(&self) -> &std::path::Path;
    fn read_store(&self) -> Value;
    fn login(&self, which: &str) -> (String, String);
    async fn logs_in(&self, which: &str) -> bool;
    async fn seesaw(&self, args: &[&str]) -> Run;
    async fn engine(&self) -> seesaw::runtime::Engine;
    /// A session logged in as `user` (its server sees it).
    async fn session(&self, user: &str, password: &str) -> Held;
    /// Target `demo`'s lock, taken the way another seesaw would.
    async fn hold_lock(&self) -> Held;

    /// Replaces `from` with `to` in the config file.
    fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        assert!(text.contains(from), "the config has no {from:?}");
        std::fs::write(self.config_path(), text.replace(from, to)).unwrap();
    }
}

pub struct Postgres(pub super::seesaw::Target);

#[async_trait]
impl TestTarget for Postgres {
    async fn create(users: [&str; 2], extra: &str) -> Self {
        let mut t = super::seesaw::Target::new(users).await;
        t.database_extra = extra.to_owned();
        t.write_config();
        Postgres(t)
    }
    fn config_path(&self) -> &std::path::Path {
        &self.0.config
    }
    fn read_store(&self) -> Value {
        self.0.read_store()
    }
    fn login(&self, which: &str) -> (String, String) {
        self.0.login(which)
    }
    async fn logs_in(&self, which: &str) -> bool {
        self.0.logs_in(which).await
    }
    async fn seesaw(&self, args: &[&str]) -> Run {
        self.0.seesaw(args).await
    }
    async fn engine(&self) -> seesaw::runtime::Engine {
        self.0.engine().await
    }
    async fn session(&self, user: &str, password: &str) -> Held {
        let client = self
            .0
            .cluster
            .connect(user, password, super::seesaw::DB)
            .await
            .unwrap();
        Box::new(client)
    }
    async fn hold_lock(&self) -> Held {
        Box::new(self.0.hold_lock().await)
    }
}

#[cfg(feature = "mysql")]
pub struct MariaDb(pub super::mariadb::Target);

#[cfg(feature = "mysql")]
#[async_trait]
impl TestTarget for MariaDb {
    async fn create(users: [&str; 2], extra: &str) -> Self {
        MariaDb(super::mariadb::Target::new(users, extra).await)
    }
    fn config_path(&self) -> &std::path::Path {
        &self.0.config
    }
    fn read_store(&self) -> Value {
        self.0.read_store()
    }
    fn login(&self, which: &str) -> (String, String) {
        self.0.login(which)
    }
    async fn logs_in(&self, which: &str) -> bool {
        self.0.logs_in(which).await
    }
    async fn seesaw(&self, args: &[&str]) -> Run {
        self.0.seesaw(args).await
    }
    async fn engine(&self) -> seesaw::runtime::Engine {
        self.0.engine().await
    }
    async fn session(&self, user: &str, password: &str) -> Held {
        use mysql_async::prelude::Queryable;
        let mut conn = self.0.server.connect(user, password, None).await.unwrap();
        conn.query_drop("SELECT 1").await.unwrap();
        Box::new(conn)
    }
    async fn hold_lock(&self) -> Held {
        use mysql_async::prelude::Queryable;
        let mut root = self.0.server.root().await.unwrap();
        let key = seesaw::db::lock_key("demo") as u64;
        let got: Option<i64> = root
            .query_first(format!("SELECT GET_LOCK('seesaw:{key:016x}', 0)"))
            .await
            .unwrap();
        assert_eq!(got, Some(1));
        Box::new(root)
    }
}
