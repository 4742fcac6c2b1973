//! seesaw as operators deploy it, on a real node: `tests/kube/control-plane
//! up DIR --node` adds containerd, runc and a kubelet to the test control
//! plane; seesaw's OCI image (deploy/image/build) is imported into that
//! containerd; `helm install` of deploy/helm/seesaw runs it as two pods
//! that authenticate with the token the kubelet mounts (in-cluster config,
//! through the `kubernetes` Service) and elect a leader; the applications
//! it restarts are real containers that read the Secret as env when they
//! start and log in every 100 ms.
//!
//! Skipped outside CI without a node or an image (the reason is printed);
//! in CI they fail instead. docs/real-node.md describes the node.

#[path = "../support/mod.rs"]
mod support;

mod apps;
// First in name order, so libtest starts the longest test (5 rotations) first.
mod downtime;
mod health;
mod kustomize;
mod leader;
mod node;
mod release;
