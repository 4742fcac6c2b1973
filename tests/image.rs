//! The container image's files run as the image runs them: the root
//! filesystem deploy/image/build makes (with deploy/image/rootfs.sh, the
//! recipe deploy/Dockerfile uses too) as the only filesystem (chroot), as
//! user 65532, rotating a real PostgreSQL. Needs the image built and root
//! (for chroot): `.ci/run` builds it and sets SEESAW_IMAGE_ROOTFS; without
//! it this test skips locally with the command to run, and fails in CI.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::seesaw::{Target, ADMIN_PASSWORD};

fn rootfs() -> Option<PathBuf> {
    match std::env::var_os("SEESAW_IMAGE_ROOTFS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "SEESAW_IMAGE_ROOTFS is not set in CI (.ci/run builds the image with deploy/image/build)"
            );
            eprintln!("SEESAW_IMAGE_ROOTFS not set: skipping (deploy/image/build target/image, then SEESAW_IMAGE_ROOTFS=target/image/rootfs)");
            None
        }
    }
}

/// Runs the image's entrypoint in `root` as 65532 with only `env`.
fn in_image(root: &Path, args: &[&str], env: &[(&str, &str)]) -> support::seesaw::Run {
    // Absolute: env_clear leaves no PATH to look it up with.
    Command::new("/usr/sbin/chroot")
        .arg("--userspec=65532:65532")
        .arg(root)
        .arg("/usr/local/bin/seesaw")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run chroot")
        .into()
}

#[tokio::test]
async fn the_image_rotates_a_real_postgres_as_nonroot_with_nothing_else_in_it() {
    let Some(image) = rootfs() else { return };
    assert!(
        support::process::running_as_root(),
        "chroot needs root (.ci/run runs as root)"
    );
    // A copy: the test writes its config and store into the image's tree.
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&image)
        .arg(&root)
        .status()
        .unwrap();
    assert!(copied.success());
    let entries: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["etc", "tmp", "usr"],
        "the image holds more than seesaw needs"
    );

    let version = in_image(&root, &["version"], &[]);
    assert_eq!(version.code, 0, "{}", version.all());
    assert!(version.stdout.contains("seesaw"), "{}", version.all());

    let mut t = Target::new(["app_a", "app_b"]).await;
    let work = root.join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(65532), Some(65532)).unwrap();
    let store = work.join("secret.json");
    std::fs::copy(&t.store, &store).unwrap();
    std::os::unix::fs::chown(&store, Some(65532), Some(65532)).unwrap();
    t.store = store;
    t.write_config();
    let config = std::fs::read_to_string(&t.config)
        .unwrap()
        .replace(&root.display().to_string(), "");
    assert!(config.contains("path: /work/secret.json"), "{config}");
    std::fs::write(work.join("seesaw.yaml"), config).unwrap();

    let env = [("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    for i in 0..2 {
        let run = in_image(
            &root,
            &["--config", "/work/seesaw.yaml", "rotate", "demo"],
            &env,
        );
        assert_eq!(run.code, 0, "rotation {i} in the image: {}", run.all());
        assert!(t.logs_in("current").await, "rotation {i}: current");
        assert!(t.logs_in("previous").await, "rotation {i}: previous");
    }
    // Nothing left behind in the image's /tmp or beside the store.
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    let mut left: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["secret.json", "seesaw.yaml"]);
}
