//! Stamps the build with the commit it was built from (and that commit's
//! date, so a rebuild of the same commit is identical), for `seesaw version`.
//! Outside a git checkout (a crate tarball) both are "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
    let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_else(|| "unknown".into());
    println!(
        "cargo:rustc-env=SEESAW_COMMIT={commit}{}",
        if dirty { "-modified" } else { "" }
    );
    println!("cargo:rustc-env=SEESAW_COMMIT_DATE={date}");
    // Rebuild when HEAD moves (a commit, a checkout) or the index changes.
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(head) = std::fs::read_to_string(".git/HEAD")
        .ok()
        .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_owned()))
    {
        println!("cargo:rerun-if-changed=.git/{head}");
    }
}
