//! seesaw against a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kwok, started by
//! `tests/kube/control-plane up`): real rollouts by the real controllers,
//! pods that log in to a real PostgreSQL, RBAC really enforced.

#[path = "../support/mod.rs"]
mod support;

mod leader;
mod preflight;
mod rollouts;
mod setup;
mod shared_suite;
mod shipped;
