//! The real node `tests/kube/control-plane up DIR --node` starts
//! (containerd, runc, kubelet), found through what it writes to DIR/env,
//! and seesaw's image imported into its containerd.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The node registers with this taint and carries this label: the pods of
/// these tests tolerate and select them, so every other test's pods (which
/// name no node) keep to the kwok nodes.
pub const TAINT: &str = "seesaw.test/real-node";
pub const LABEL: (&str, &str) = ("seesaw.test/node", "real");

pub struct Node {
    /// containerd's socket.
    pub containerd: PathBuf,
    /// Where pods reach this machine's loopback servers (the bridge's
    /// gateway; the node DNATs its TCP ports to 127.0.0.1).
    pub host: String,
    /// The pods' addresses (the databases' pg_hba.conf must admit them).
    pub pod_cidr: String,
    /// The application client's image (tests/kube/node/images/app).
    pub app_image: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Skips outside CI with `why`; fails in CI, where the node must run.
fn missing(why: &str) -> Option<Node> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why} in CI: .ci/run starts the node with tests/kube/control-plane up DIR --node and builds the image with deploy/image/build (see DIR/logs/kubelet.log and containerd.log)"
    );
    eprintln!("skipped: {why} (as root: tests/kube/control-plane up DIR --node, export DIR/env, deploy/image/build target/image and SEESAW_IMAGE_ROOTFS=target/image/rootfs)");
    None
}

/// The archive deploy/image/build wrote: SEESAW_IMAGE_ARCHIVE, else beside
/// SEESAW_IMAGE_ROOTFS (the build leaves both in one directory).
fn image_archive() -> Option<PathBuf> {
    if let Some(a) = var("SEESAW_IMAGE_ARCHIVE") {
        return Some(PathBuf::from(a));
    }
    let rootfs = PathBuf::from(var("SEESAW_IMAGE_ROOTFS")?);
    let archive = rootfs
        .parent()?
        .join(format!("seesaw-{}.tar", env!("CARGO_PKG_VERSION")));
    archive.exists().then_some(archive)
}

/// `seesaw:<version>`, as the chart's values and the tests name it.
pub fn seesaw_image() -> (String, String) {
    ("seesaw".into(), env!("CARGO_PKG_VERSION").into())
}

impl Node {
    /// The node, with seesaw's image imported; `None` (skip) outside CI
    /// when no node runs or no image was built.
    pub fn find() -> Option<Node> {
        let Some(containerd) = var("SEESAW_CONTAINERD_ADDRESS") else {
            return missing("SEESAW_CONTAINERD_ADDRESS is not set (no real node)");
        };
        let Some(archive) = image_archive() else {
            return missing("no image archive (SEESAW_IMAGE_ARCHIVE or SEESAW_IMAGE_ROOTFS)");
        };
        let node = Node {
            containerd: PathBuf::from(containerd),
            host: var("SEESAW_NODE_HOST").expect("SEESAW_NODE_HOST in DIR/env"),
            pod_cidr: var("SEESAW_NODE_POD_CIDR").expect("SEESAW_NODE_POD_CIDR in DIR/env"),
            app_image: var("SEESAW_NODE_APP_IMAGE").expect("SEESAW_NODE_APP_IMAGE in DIR/env"),
        };
        static IMPORTED: OnceLock<()> = OnceLock::new();
        IMPORTED.get_or_init(|| node.import(&archive));
        Some(node)
    }

    /// `ctr` on the node's containerd, in the kubelet's namespace.
    pub fn ctr(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.containerd)
            .args(["-n", "k8s.io"]);
        c
    }

    /// Imports the OCI archive as operators without a registry would. The
    /// archive names the image `seesaw:<version>`; the kubelet asks for the
    /// normalized `docker.io/library/seesaw:<version>`, so it is tagged so.
    fn import(&self, archive: &std::path::Path) {
        let started = std::time::Instant::now();
        must(self.ctr().args(["images", "import"]).arg(archive));
        let (repo, tag) = seesaw_image();
        must(self.ctr().args([
            "images",
            "tag",
            "--force",
            &format!("{repo}:{tag}"),
            &format!("docker.io/library/{repo}:{tag}"),
        ]));
        eprintln!("imported {} in {:?}", archive.display(), started.elapsed());
    }

    /// The host PID of a running container (`containerd://<id>` as the
    /// pod's status names it).
    pub fn container_pid(&self, container_id: &str) -> u32 {
        let id = container_id.trim_start_matches("containerd://");
        let tasks = must(self.ctr().args(["tasks", "ls"]));
        tasks
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some(id)).then(|| f.next().unwrap().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no task {id} in:\n{tasks}"))
    }
}

/// Where a pod must go to run on the real node.
pub fn placement() -> Value {
    json!({
        "nodeSelector": {LABEL.0: LABEL.1},
        "tolerations": [{"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}],
    })
}

pub use crate::support::process::must;
