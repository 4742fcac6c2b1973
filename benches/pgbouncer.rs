//! What rotating behind PgBouncer costs: the same target rotated with its
//! PgBouncer in `database.poolers` (write the verifier to the auth_file,
//! RELOAD, log in through it) and without (the database only, which is
//! what a rotation that ignores PgBouncer does, locking its clients out),
//! in one run, as a ratio. Both against a private PostgreSQL and a real
//! PgBouncer (transaction pooling, auth_file). `cargo bench --bench
//! pgbouncer` (ROTATIONS=n, default 100).

#[path = "../tests/support/mod.rs"]
mod support;

use support::bench::rotations as rotations_of;
use support::pgbouncer::PgBouncer;

fn main() {
    let rotations = support::bench::count("ROTATIONS", 100);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut t = support::seesaw::Target::new(["bench_a", "bench_b"]).await;
        let bouncer = PgBouncer::start(&t.cluster, &["bench_a", "bench_b"], "transaction").await;

        println!("without poolers (database only), {rotations} rotations:");
        let plain = t.engine().await;
        let (direct, steps) = rotations_of(&plain, rotations).await;
        steps.print();

        t.database_extra = bouncer.config_lines(true);
        t.write_config();
        println!(
            "behind PgBouncer (auth_file + RELOAD + login through it), {rotations} rotations:"
        );
        let pooled = t.engine().await;
        let (behind, steps) = rotations_of(&pooled, rotations).await;
        steps.print();
        let (user, password) = t.login("current");
        bouncer
            .login(&user, &password)
            .await
            .expect("current logs in through PgBouncer");
        println!(
            "ratio behind PgBouncer / database only: {:.2}x (median rotation)",
            behind.as_secs_f64() / direct.as_secs_f64()
        );
    });
}
