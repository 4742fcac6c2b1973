//! One file per command: every variant of `cli::Command` has its own file
//! in `src/commands/`, and `commands::run` matches every variant by name
//! (no catch-all arm, so a new command cannot fall into one).

/// The variants of `pub enum Command` in `cli`, in order.
fn variants(cli: &str) -> Vec<String> {
    let start = cli
        .find("pub enum Command {")
        .expect("cli.rs declares Command");
    let body = &cli[start..];
    let body = &body[..body.find("\n}").expect("Command ends")];
    body.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(|l| {
            l.split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// `SetupSql` -> `setup_sql`; `Run` is the daemon.
fn file_for(variant: &str) -> String {
    if variant == "Run" {
        return "daemon".into();
    }
    let mut name = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// What is wrong with `dispatch` (commands/mod.rs) for these variants,
/// given which command files exist.
fn problems(variants: &[String], dispatch: &str, exists: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for v in variants {
        let file = file_for(v);
        if !exists(&file) {
            found.push(format!("Command::{v} has no src/commands/{file}.rs"));
        }
        if !dispatch.contains(&format!("Command::{v}")) {
            found.push(format!("commands::run does not match Command::{v} by name"));
        }
        if !dispatch.contains(&format!("{file}::run(")) {
            found.push(format!("commands::run does not call {file}::run"));
        }
    }
    if dispatch.contains("_ =>") {
        found.push("commands::run has a catch-all arm".into());
    }
    found
}

#[test]
fn every_command_has_its_own_file_and_its_own_arm() {
    let cli = std::fs::read_to_string("src/cli.rs").unwrap();
    let dispatch = std::fs::read_to_string("src/commands/mod.rs").unwrap();
    let variants = variants(&cli);
    assert!(variants.len() >= 12, "{variants:?}");
    let found = problems(&variants, &dispatch, |file| {
        std::path::Path::new(&format!("src/commands/{file}.rs")).exists()
    });
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_command_rule_catches_a_missing_file_arm_and_catch_all() {
    let cli =
        "pub enum Command {\n    /// doc\n    Rotate {\n        target: String,\n    },\n    \
               SetupSql { target: String },\n    Version,\n}\n";
    let variants = variants(cli);
    assert_eq!(variants, ["Rotate", "SetupSql", "Version"]);
    let dispatch = "Command::Rotate { .. } => rotate::run(),\n_ => version::run(),\n";
    let found = problems(&variants, dispatch, |file| file != "setup_sql");
    assert_eq!(
        found,
        [
            "Command::SetupSql has no src/commands/setup_sql.rs",
            "commands::run does not match Command::SetupSql by name",
            "commands::run does not call setup_sql::run",
            "commands::run does not match Command::Version by name",
            "commands::run has a catch-all arm",
        ]
    );
}
