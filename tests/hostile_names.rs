//! Role names that need quoting, and passwords that need percent-encoding.

mod support;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use std::str::FromStr;
use support::seesaw::{Target, DB};

async fn rotates_three_times(users: [&str; 2]) {
    let t = Target::new(users).await;
    for expected in [users[1], users[0], users[1]] {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{users:?}: {}", run.all());
        assert_eq!(t.login("current").0, expected);
        assert!(t.logs_in("current").await, "{users:?}: new credential");
        assert!(
            t.logs_in("previous").await,
            "{users:?}: previous credential"
        );
    }
}

#[tokio::test]
async fn quotes_and_spaces() {
    rotates_three_times(["we\"ird 'q", "Space Man"]).await;
}

#[tokio::test]
async fn capitals_non_ascii_and_sql_lookalikes() {
    rotates_three_times(["Ünïcødé_ß", "MiXeD;DROP ROLE x;--"]).await;
}

#[tokio::test]
async fn the_generated_password_works_in_a_percent_encoded_url() {
    let t = Target::new(["app_a", "app_b"]).await;
    // Long passwords make every symbol likely to appear at least once.
    std::fs::write(
        &t.config,
        std::fs::read_to_string(&t.config)
            .unwrap()
            .replace("    store:", "    password: { length: 128 }\n    store:"),
    )
    .unwrap();
    for _ in 0..2 {
        assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
        let (user, password) = t.login("current");
        let url = format!(
            "postgresql://{}:{}@127.0.0.1:{}/{DB}",
            utf8_percent_encode(&user, NON_ALPHANUMERIC),
            utf8_percent_encode(&password, NON_ALPHANUMERIC),
            t.cluster.port
        );
        let parsed = url::Url::parse(&url).expect("a valid URL");
        let decoded = percent_encoding::percent_decode_str(parsed.password().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, password);
        // And a driver given the URL logs in with it.
        let config = tokio_postgres::Config::from_str(&url).expect("tokio-postgres parses the URL");
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("login through the URL");
        tokio::spawn(conn);
        let row = client
            .query_one("SELECT session_user::text", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), user);
    }
}
