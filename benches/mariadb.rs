//! A MariaDB rotation beside what a user would compare it with: one login
//! of the `mariadb` command-line client (the floor of any rotation tool,
//! which must at least log in), in one run, as a ratio. Against a private
//! MariaDB 10.11. `cargo bench --bench mariadb` (ROTATIONS=n, default 50).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::bench::line;

fn main() {
    let rotations = support::bench::count("ROTATIONS", 50);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = support::mariadb::Target::new(["bench_a", "bench_b"], "").await;

        println!("in-process rotation (engine), {rotations} rotations:");
        let engine = t.engine().await;
        let (_, steps) = support::bench::rotations(&engine, rotations).await;
        steps.print();

        let mut process = Vec::new();
        for _ in 0..rotations {
            let started = Instant::now();
            let run = t.seesaw(&["rotate", "demo"]).await;
            assert_eq!(run.code, 0, "{}", run.all());
            process.push(started.elapsed());
        }
        let mut client = Vec::new();
        let (user, password) = t.login("current");
        for _ in 0..rotations {
            let started = Instant::now();
            let out = tokio::process::Command::new("mariadb")
                .args(["--no-defaults", "-h", "127.0.0.1", "-P"])
                .arg(t.server.port.to_string())
                .arg(format!("-u{user}"))
                .env("MYSQL_PWD", &password)
                .args(["-e", "SELECT 1"])
                .output()
                .await
                .expect("run the mariadb client");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            client.push(started.elapsed());
        }
        println!("processes, {rotations} runs each:");
        let rotate: Duration = line("seesaw rotate", process);
        let login: Duration = line("mariadb -e 1", client);
        println!(
            "ratio `seesaw rotate` / one `mariadb` client login: {:.1}x",
            rotate.as_secs_f64() / login.as_secs_f64()
        );
        assert!(t.logs_in("current").await && t.logs_in("previous").await);
    });
}
