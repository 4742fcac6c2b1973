//! The rotation Lambda side by side with AWS's own
//! `SecretsManagerRDSPostgreSQLRotationMultiUser` function: both run as
//! processes behind the same runtime-API stand-in, against the same
//! moto_server (behind a relay that counts Secrets Manager calls) and the
//! same PostgreSQL (whose `log_connections` lines count logins), each on a
//! secret of its own in AWS's shape (`<user>` / `<user>_clone`,
//! `masterarn`, `"ssl": false`).
//!
//! `cargo bench --bench lambda`. With `AWS_FUNCTION_DIR` (a directory
//! holding AWS's `lambda_function.py`, taken from
//! aws-samples/aws-secrets-manager-rotation-lambdas by whoever runs this;
//! it is never part of this repository) and `AWS_FUNCTION_PYTHON` (a
//! Python with `boto3`, `PyGreSQL` and `awslambdaric` installed), AWS's
//! function is measured too and the ratios are printed; without them,
//! seesaw alone. `ROTATIONS` (default 50) warm rotations each, after one
//! unmeasured rotation that creates the clone. `SEESAW_BOOTSTRAP=path`
//! measures another build of the binary (e.g. `--no-default-features
//! --features lambda`).
//!
//! Reported per function: cold start (process start to the answer to
//! createSecret, median of 5), each step's duration in a warm sandbox
//! (hand-out of the event to the answer, median), CPU per rotation
//! (user + system, from /proc), peak RSS, Secrets Manager calls and login
//! attempts per step (mean). Both run with the environment Lambda gives a
//! function, not this machine's.

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::calls::{logins, CallCounter};
use support::lambda_api::RuntimeApi;
use support::moto::Moto;
use support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// Builds a function's process, pointed at a runtime API and at Secrets
/// Manager.
type Launcher = Box<dyn Fn(&RuntimeApi, &str) -> tokio::process::Command>;

struct Contender {
    name: &'static str,
    secret: &'static str,
    command: Launcher,
}

#[derive(Default)]
struct Measured {
    cold_ms: f64,
    step_ms: [f64; 4],
    rotation_ms: f64,
    cpu_ms: f64,
    peak_rss_mib: f64,
    /// At the end: resident memory the process allocated, and pages of its
    /// executable and libraries (shared with the page cache).
    anon_mib: f64,
    file_mib: f64,
    calls: [f64; 4],
    logins: [f64; 4],
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// User + system CPU of `pid`, in ms (from /proc/PID/stat, in clock ticks
/// of 10 ms).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks * 10.0
}

/// A `/proc/PID/status` memory line (`VmHWM`, `RssAnon`, ...), in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn event(secret: &str, step: &str, token: &str) -> Value {
    json!({"Step": step, "SecretId": secret, "ClientRequestToken": token})
}

async fn measure(
    c: &Contender,
    moto: &Moto,
    counter: &CallCounter,
    t: &Target,
    rotations: usize,
    tokens: &mut u32,
) -> Measured {
    let mut next_token = || {
        *tokens += 1;
        format!("{:032x}", *tokens)
    };
    let mut m = Measured::default();

    // Cold start: a new process per rotation, first event createSecret.
    let mut cold = Vec::new();
    for _ in 0..5 {
        let token = next_token();
        moto.start_rotation(c.secret, &token).await;
        let api = RuntimeApi::start(RuntimeApi::rotation_events(c.secret, &token)).await;
        let started = Instant::now();
        let mut child = (c.command)(&api, &counter.url).spawn().unwrap();
        api.wait_for(1).await;
        cold.push(ms(started.elapsed()));
        for (id, result) in api.wait_for(4).await {
            assert!(result.starts_with("ok"), "{}: {id}: {result}", c.name);
        }
        child.kill().await.unwrap();
    }
    m.cold_ms = median(cold);

    // Warm: one process, the steps one after another as Secrets Manager
    // sends them.
    let api = RuntimeApi::start(Vec::new()).await;
    let mut child = (c.command)(&api, &counter.url).spawn().unwrap();
    let pid = child.id().unwrap();
    let mut served = 0;
    let mut steps: Vec<Vec<f64>> = vec![Vec::new(); 4];
    let mut totals = Vec::new();
    let mut cpu_before = 0.0;
    for r in 0..=rotations {
        if r == 1 {
            cpu_before = cpu_ms(pid);
        }
        let token = next_token();
        moto.start_rotation(c.secret, &token).await;
        let mut total = 0.0;
        for (k, step) in STEPS.iter().enumerate() {
            counter.take();
            let from = t.cluster.server_log().len();
            api.push(event(c.secret, step, &token));
            served += 1;
            let results = api.wait_for(served).await;
            let (id, result) = &results[served - 1];
            assert!(result.starts_with("ok"), "{}: {id}: {result}", c.name);
            if r == 0 {
                continue; // creates the clone: not the steady state
            }
            let took = ms(api.durations.lock().unwrap()[served - 1]);
            steps[k].push(took);
            total += took;
            m.calls[k] += counter.take().values().sum::<u32>() as f64 / rotations as f64;
            let attempts: u32 = logins(&t.cluster.server_log(), from)
                .values()
                .map(|(ok, refused)| ok + refused)
                .sum();
            m.logins[k] += attempts as f64 / rotations as f64;
        }
        if r > 0 {
            totals.push(total);
        }
    }
    m.cpu_ms = (cpu_ms(pid) - cpu_before) / rotations as f64;
    m.peak_rss_mib = status_mib(pid, "VmHWM");
    m.anon_mib = status_mib(pid, "RssAnon");
    m.file_mib = status_mib(pid, "RssFile");
    child.kill().await.unwrap();
    for (k, samples) in steps.into_iter().enumerate() {
        m.step_ms[k] = median(samples);
    }
    m.rotation_ms = median(totals);
    m
}

/// The environment Lambda gives a function, and nothing of this machine's
/// (its SSL_CERT_DIR, proxies, profiles): the same for both functions.
fn lambda_environment(cmd: &mut tokio::process::Command, api: &RuntimeApi) {
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "rotation")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
}

fn seesaw() -> Contender {
    // SEESAW_BOOTSTRAP: another build of the binary.
    let bin = std::env::var("SEESAW_BOOTSTRAP")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_seesaw").to_owned());
    Contender {
        name: "seesaw",
        secret: "bench/seesaw",
        command: Box::new(move |api, endpoint| {
            let mut cmd = tokio::process::Command::new(&bin);
            lambda_environment(&mut cmd, api);
            cmd.env("AWS_ENDPOINT_URL", endpoint)
                .env("SEESAW_DB_TLS", "disable");
            cmd
        }),
    }
}

/// AWS's function under `awslambdaric`, the runtime interface client AWS's
/// own Python images run.
fn aws_function() -> Option<Contender> {
    let dir = std::env::var("AWS_FUNCTION_DIR").ok()?;
    let python = std::env::var("AWS_FUNCTION_PYTHON").ok()?;
    assert!(
        std::path::Path::new(&dir)
            .join("lambda_function.py")
            .exists(),
        "AWS_FUNCTION_DIR={dir} holds no lambda_function.py"
    );
    Some(Contender {
        name: "AWS's function",
        secret: "bench/aws",
        command: Box::new(move |api, endpoint| {
            let mut cmd = tokio::process::Command::new(&python);
            lambda_environment(&mut cmd, api);
            cmd.args(["-m", "awslambdaric", "lambda_function.lambda_handler"])
                .current_dir(&dir)
                .env("SECRETS_MANAGER_ENDPOINT", endpoint);
            cmd
        }),
    })
}

fn main() {
    let rotations = support::bench::count("ROTATIONS", 50);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let Some(moto) = Moto::start() else {
            eprintln!("moto_server not installed");
            return;
        };
        let counter = CallCounter::start(&moto.url).await;
        let t = Target::new(["app_a", "app_b"]).await;
        t.set_password("app_b", "standby-Password-2").await;
        let shape = |user: &str, password: &str| {
            json!({"engine": "postgres", "host": "127.0.0.1", "port": t.cluster.port, "dbname": DB,
                   "username": user, "password": password, "masterarn": "bench/master", "ssl": false})
        };
        moto.create(
            "bench/master",
            &json!({"engine": "postgres", "host": "127.0.0.1", "port": t.cluster.port,
                    "dbname": DB, "username": ADMIN, "password": ADMIN_PASSWORD}),
        )
        .await;
        moto.create("bench/seesaw", &shape("app_a", "initial-Password-1"))
            .await;
        moto.create("bench/aws", &shape("app_b", "standby-Password-2"))
            .await;

        let mut contenders = vec![seesaw()];
        match aws_function() {
            Some(aws) => contenders.push(aws),
            None => eprintln!(
                "AWS_FUNCTION_DIR / AWS_FUNCTION_PYTHON not set: measuring seesaw alone (see the header of benches/lambda.rs)"
            ),
        }
        let mut tokens = 0;
        let mut results = Vec::new();
        for c in &contenders {
            results.push(measure(c, &moto, &counter, &t, rotations, &mut tokens).await);
        }
        print(&contenders, &results, rotations);
    });
}

fn print(contenders: &[Contender], results: &[Measured], rotations: usize) {
    println!(
        "Lambda rotation, {rotations} warm rotations per function, same moto, PostgreSQL and runtime API"
    );
    let mut header = format!("{:<34}", "");
    for c in contenders {
        header.push_str(&format!("{:>16}", c.name));
    }
    if results.len() == 2 {
        header.push_str(&format!("{:>12}", "ratio"));
    }
    println!("{header}");
    let row = |label: &str, value: &dyn Fn(&Measured) -> f64, unit: &str, digits: usize| {
        let mut line = format!("{label:<34}");
        for m in results {
            let cell = format!("{:.*} {unit}", digits, value(m));
            line.push_str(&format!("{:>16}", cell.trim_end()));
        }
        if let [ours, theirs] = results {
            let (a, b) = (value(ours), value(theirs));
            if a > 0.0 {
                line.push_str(&format!("{:>11.2}x", b / a));
            } else {
                line.push_str(&format!("{:>12}", "-"));
            }
        }
        println!("{line}");
    };
    row("cold start to createSecret", &|m| m.cold_ms, "ms", 1);
    for (k, step) in STEPS.iter().enumerate() {
        row(&format!("warm {step}"), &|m| m.step_ms[k], "ms", 1);
    }
    row("warm full rotation", &|m| m.rotation_ms, "ms", 1);
    row("CPU per rotation", &|m| m.cpu_ms, "ms", 1);
    row("peak RSS", &|m| m.peak_rss_mib, "MB", 1);
    row("  RSS at the end: allocated", &|m| m.anon_mib, "MB", 1);
    row("  RSS at the end: executable", &|m| m.file_mib, "MB", 1);
    for (k, step) in STEPS.iter().enumerate() {
        row(
            &format!("Secrets Manager calls, {step}"),
            &|m| m.calls[k],
            "",
            1,
        );
    }
    row(
        "Secrets Manager calls per rotation",
        &|m| m.calls.iter().sum(),
        "",
        1,
    );
    for (k, step) in STEPS.iter().enumerate() {
        row(&format!("logins, {step}"), &|m| m.logins[k], "", 1);
    }
    row("logins per rotation", &|m| m.logins.iter().sum(), "", 1);
    if results.len() == 2 {
        println!("ratio: AWS's function / seesaw (above 1: seesaw is faster, smaller or makes fewer calls)");
    }
}
