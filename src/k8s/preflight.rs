//! The preflight: every request a sync will make, tried before the run's
//! first change. Writes go as server-side dry runs (`dryRun=All`) of the
//! very requests the sync sends, so authentication, RBAC, admission
//! (ValidatingAdmissionPolicies, webhooks), immutability and the
//! namespace are all checked by the API server itself and nothing is
//! stored. A watch has no dry run: a SelfSubjectAccessReview asks RBAC
//! instead. Events are best effort, so a refused one is a warning.

use super::errors::Call;
use super::writes::Mode;
use super::{secrets, workloads};
use crate::config::KubernetesConfig;
use crate::consumers::ConsumerError;
use crate::rotation::{Proof, WriteCheck};
use crate::secret::SecretDocument;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Api;
use std::collections::BTreeSet;

/// Requests in flight at once: a target with a hundred workloads is
/// proven in a few round trips, without a burst the API server throttles.
const CONCURRENT: usize = 16;

/// The checks of one object, or why they could not be made.
type Tried = Result<Vec<WriteCheck>, ConsumerError>;

pub(super) async fn check(
    client: &kube::Client,
    spec: &KubernetesConfig,
    document: &SecretDocument,
    version: &str,
    target: &str,
) -> Result<Vec<WriteCheck>, ConsumerError> {
    let secrets = spec.secrets.iter().map(|s| {
        async move {
            let object = format!("Secret {}/{}", s.namespace, s.name);
            let tried = secrets::sync(client, s, document, version, target, Mode::Prove).await;
            Ok(vec![match tried {
                Ok(verb) => allowed(object, verb.unwrap_or("patch"), "server-side dry run"),
                Err(problem) => refused(object, "patch", problem)?,
            }])
        }
        .boxed()
    });
    let workloads = spec.workloads.iter().map(|w| {
        async move {
            let object = w.to_string();
            // The restart's patch, whatever the workload's state: the run
            // reads that itself, and a paused Deployment (which it leaves
            // alone) is no reason to spend a GET here.
            let tried = workloads::restart(client, w, version, Mode::Prove).await;
            let mut checks = vec![match tried {
                Ok(()) => allowed(
                    object.clone(),
                    "patch",
                    "server-side dry run of the restart",
                ),
                Err(problem) => refused(object.clone(), "patch", problem)?,
            }];
            if spec.rollout.wait {
                let call = workloads::call(w, "watch");
                checks.push(reviewed(client, object, &call, Proof::Denied).await?);
            }
            Ok(checks)
        }
        .boxed()
    });
    // kube's Recorder creates an Event and patches it into a series.
    let namespaces: BTreeSet<&str> = (spec.secrets.iter().map(|s| s.namespace.as_str()))
        .chain(spec.workloads.iter().map(|w| w.namespace.as_str()))
        .collect();
    let events = namespaces.into_iter().flat_map(|ns| {
        ["create", "patch"].map(|verb| {
            async move {
                let call = Call {
                    verb,
                    group: "events.k8s.io",
                    resource: "events",
                    namespace: ns,
                    name: "",
                };
                let object = format!("Events in {ns}");
                let mut check = reviewed(client, object, &call, Proof::Warning).await?;
                if check.result != Proof::Allowed {
                    check.detail += "; rotations go on without recording Events";
                }
                Ok(vec![check])
            }
            .boxed()
        })
    });
    // Made up front (a lazy iterator's closures trip the Send proof of
    // the trait's boxed future); answered in the config's order.
    let tries: Vec<BoxFuture<'_, Tried>> = secrets.chain(workloads).chain(events).collect();
    let answers: Vec<Tried> = futures::stream::iter(tries)
        .buffered(CONCURRENT)
        .collect()
        .await;
    let mut checks = Vec::new();
    for answer in answers {
        checks.extend(answer?);
    }
    Ok(checks)
}

fn allowed(object: String, verb: &str, how: &str) -> WriteCheck {
    WriteCheck {
        object,
        verb: verb.into(),
        result: Proof::Allowed,
        detail: how.into(),
    }
}

fn denied(object: String, verb: &str, problem: ConsumerError) -> WriteCheck {
    WriteCheck {
        object,
        verb: verb.into(),
        result: Proof::Denied,
        detail: problem.to_string(),
    }
}

/// A request that failed: refused (RBAC, admission, immutable, missing, a
/// template the config got wrong), or, when the failure says nothing about
/// the request (no answer, a busy server), the error itself.
fn refused(
    object: String,
    verb: &str,
    problem: ConsumerError,
) -> Result<WriteCheck, ConsumerError> {
    if problem.is_transient() {
        return Err(problem);
    }
    let verb = match &problem {
        ConsumerError::Denied { verb, .. } | ConsumerError::Refused { verb, .. } => verb.clone(),
        _ => verb.to_owned(),
    };
    Ok(denied(object, &verb, problem))
}

/// `call` as RBAC answers an access review: allowed, or `otherwise` with
/// the rule to add. A review seesaw may not ask is a warning (the run
/// still finds out at the request itself).
async fn reviewed(
    client: &kube::Client,
    object: String,
    call: &Call<'_>,
    otherwise: Proof,
) -> Result<WriteCheck, ConsumerError> {
    let (result, detail) = match review(client, call).await {
        Ok(None) => (Proof::Allowed, "allowed (access review)".to_owned()),
        Ok(Some(why)) => (otherwise, call.denied(why).to_string()),
        Err(problem) if problem.is_transient() => return Err(problem),
        Err(problem) => (Proof::Warning, format!("could not be asked: {problem}")),
    };
    Ok(WriteCheck {
        object,
        verb: call.verb.into(),
        result,
        detail,
    })
}

/// Asks RBAC whether seesaw may make `call` (a SelfSubjectAccessReview,
/// which every authenticated identity may create). `Some(reason)` when not.
async fn review(client: &kube::Client, call: &Call<'_>) -> Result<Option<String>, ConsumerError> {
    let asked = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(call.namespace.into()),
                verb: Some(call.verb.into()),
                group: Some(call.group.into()),
                resource: Some(call.resource.into()),
                name: (!call.name.is_empty()).then(|| call.name.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api.create(&Default::default(), &asked).await.map_err(|e| {
        Call {
            verb: "create",
            group: "authorization.k8s.io",
            resource: "selfsubjectaccessreviews",
            namespace: "",
            name: "",
        }
        .error(e)
    })?;
    let status = answer.status.unwrap_or_default();
    Ok((!status.allowed).then(|| {
        let why = status.reason.unwrap_or_default();
        if why.is_empty() {
            "not allowed by RBAC (access review)".to_owned()
        } else {
            format!("not allowed by RBAC (access review: {why})")
        }
    }))
}
