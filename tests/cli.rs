//! The commands that need no config: version, completions, man.

fn seesaw(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .args(args)
        .env_remove("SEESAW_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_names_the_commit_and_what_this_build_includes() {
    let (code, out, err) = seesaw(&["version"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("seesaw {}\n", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    let commit = out.lines().nth(1).unwrap();
    assert!(commit.starts_with("commit "), "{out}");
    assert!(
        !commit.contains("unknown"),
        "built from a git checkout: {out}"
    );
    let built = seesaw::features();
    let features = if built.is_empty() {
        "none".to_owned()
    } else {
        built.join(", ")
    };
    assert!(out.contains(&format!("features: {features}\n")), "{out}");
    let stores: String = ["aws", "gcp", "azure"]
        .iter()
        .filter(|s| built.contains(s))
        .map(|s| format!(", {s}"))
        .collect();
    assert!(out.contains(&format!("stores: file{stores}\n")), "{out}");
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = seesaw(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for command in ["rotate", "rollback", "demo", "setup-sql"] {
            assert!(out.contains(command), "{shell}: {command}");
        }
    }
    let (code, man, err) = seesaw(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(man.contains(".TH seesaw 1"), "{man}");
    assert!(man.contains("rotate"), "{man}");
    let (code, _, err) = seesaw(&["completions", "nosh"]);
    assert_eq!(code, 2);
    assert!(err.contains("possible values"), "{err}");
}
