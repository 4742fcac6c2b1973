//! The command line.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  done (for `plan`: the rotation would proceed)
  1  failure (database, store, or a store that does not match the database)
  2  usage or configuration error
  3  a gate blocked the rotation (nothing was changed)

Examples:
  seesaw demo
  seesaw --config examples/demo.yaml check
  seesaw --config examples/demo.yaml plan demo
  seesaw --config examples/demo.yaml rotate demo
  seesaw --config examples/demo.yaml status --output json
  seesaw --config examples/demo.yaml rollback demo";

/// Zero-downtime database credential rotation with two alternating users.
///
/// Each rotation gives the standby user of a target a new password, proves it
/// logs in and publishes it as the current credential. The other user keeps
/// its password until the next rotation, so clients still holding it keep
/// working.
#[derive(Debug, Parser)]
#[command(name = "seesaw", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The YAML config (targets, databases, stores).
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "seesaw.yaml",
        env = "SEESAW_CONFIG"
    )]
    pub config: PathBuf,
    /// Output for people (default) or for scripts (json, yaml: the
    /// documented, versioned shapes of docs/output.md).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Log format on stderr: text on a terminal, JSON otherwise (auto).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// Kubernetes context from the kubeconfig (default: in-cluster service
    /// account when running in a pod, else the current context).
    #[arg(long, global = true, env = "SEESAW_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Log each step (-v) or everything (-vv). RUST_LOG overrides; other
    /// libraries' logs stop at info either way (below it they log SQL
    /// statements and HTTP bodies, which may carry credentials).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// See it work: a throwaway PostgreSQL (from this machine's server
    /// binaries), two alternating users, a file store and simulated clients
    /// that log in all the time; a few rotations with a live view, then a
    /// summary. Needs no config; everything is removed at the end (and on
    /// Ctrl-C).
    Demo {
        /// How many rotations.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rotations: u32,
        /// How many simulated clients.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=50))]
        clients: u32,
        /// Time between rotations, while the clients log in (e.g. 2s, 500ms).
        #[arg(long, default_value = "2s")]
        interval: String,
    },
    /// Rotate a target now: new password for the standby, verify, publish.
    #[command(after_help = EXIT_CODES)]
    Rotate {
        /// The target's `name` in the config.
        target: String,
        /// Rotate even if the standby still has sessions or its memberships
        /// differ (a held lock, a missing role or a missing previous
        /// password under `admin: self` still stop it).
        #[arg(long)]
        force: bool,
        /// Observe and show the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rotate even if the target was rotated within its
        /// `min_interval` (without it, such a target is reported up to
        /// date and left alone, exit 0).
        #[arg(long)]
        now: bool,
    },
    /// Show what `rotate` would do and which gates pass; change nothing.
    #[command(after_help = EXIT_CODES)]
    Plan {
        target: String,
        /// Plan a rollback instead of a rotation.
        #[arg(long)]
        rollback: bool,
    },
    /// Show the active user, versions and standby sessions of each target.
    Status {
        /// Only this target.
        target: Option<String>,
    },
    /// Publish the previous credential again, after proving it still logs in.
    #[command(after_help = EXIT_CODES)]
    Rollback {
        target: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Run as a daemon: rotate each target on its schedule, forever. Serves
    /// /healthz, /readyz and /metrics; reloads the config on SIGHUP or when
    /// the file changes; stops cleanly on SIGTERM.
    Run {
        /// Address for /healthz, /readyz, /metrics (overrides http.address).
        #[arg(long)]
        http_addr: Option<String>,
        /// Rotate this target once right after start, then on schedule
        /// (repeatable).
        #[arg(long = "rotate-now", value_name = "TARGET")]
        rotate_now: Vec<String>,
    },
    /// Carry the store's current credential into Kubernetes whenever its
    /// version changes (for a store rotated by something else, such as the
    /// AWS Lambda). Patches the Secrets and rolls the workloads; never
    /// touches the database.
    Follow {
        target: String,
        /// How often to read the store.
        #[arg(long, default_value = "30s")]
        interval: String,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Print the SQL that creates the owner role and the two login roles.
    SetupSql { target: String },
    /// Validate the config and test connectivity; change nothing.
    Check {
        /// Only this target.
        target: Option<String>,
    },
    /// Print the version, the commit it was built from and the features
    /// (stores, Lambda) this build includes.
    Version,
    /// Print a shell completion script: `seesaw completions bash >
    /// /etc/bash_completion.d/seesaw` (or zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `seesaw man > seesaw.1; man ./seesaw.1`.
    Man,
    /// Serve AWS Secrets Manager rotation events (createSecret, setSecret,
    /// testSecret, finishSecret) from the Lambda runtime API. Entered
    /// automatically when AWS_LAMBDA_RUNTIME_API is set, so this binary can
    /// be the function's `bootstrap`. Needs no config file: the secret
    /// names the database; the environment sets SEESAW_DB_TLS
    /// (disable|require|verify-full, default verify-full), SEESAW_DB_CA_FILE,
    /// SEESAW_USERS (app_a,app_b) and SEESAW_STANDBY_SESSIONS
    /// (fail|wait|terminate, default fail).
    Lambda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    /// One JSON document on stdout (docs/output.md).
    Json,
    /// The same document as YAML.
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}
