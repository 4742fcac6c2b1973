//! kube errors -> [`ConsumerError`], naming the verb, resource and object,
//! and for 403 the RBAC rule that is missing.

use crate::consumers::ConsumerError;

/// What was being done, for the message.
pub(super) struct Call<'a> {
    pub verb: &'a str,
    /// API group: "" for core, "apps" for workloads.
    pub group: &'a str,
    pub resource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl Call<'_> {
    pub fn error(&self, e: kube::Error) -> ConsumerError {
        let object = format!("{}/{}", self.namespace, self.name);
        let doing = format!("{} {} {object}", self.verb, self.resource);
        match e {
            // A 403 is RBAC's unless an admission policy or webhook wrote
            // it (they may answer 403 too, or 422/400): then no Role rule
            // helps, and saying to add one would mislead.
            kube::Error::Api(status) if by_admission(&status.message) => ConsumerError::Refused {
                verb: self.verb.into(),
                resource: self.resource.into(),
                object,
                message: crate::reason::service_message(&status.message),
            },
            kube::Error::Api(status) => match status.code {
                403 => self.denied(crate::reason::service_message(&status.message)),
                // A create names no object: what is missing is the namespace.
                404 if self.verb == "create" => ConsumerError::NotFound {
                    kind: "namespace".into(),
                    object: self.namespace.into(),
                    hint: format!(
                        "{} {object} cannot be created in a namespace that does not exist; \
                            create the namespace or fix `namespace:` in the target's \
                                `kubernetes:` config",
                        self.resource.trim_end_matches('s')
                    ),
                },
                404 => ConsumerError::NotFound {
                    kind: self.resource.trim_end_matches('s').into(),
                    object,
                    hint: "check the name and namespace in the target's `kubernetes:` config"
                        .into(),
                },
                code => ConsumerError::Api {
                    doing,
                    message: format!(
                        "{} ({code} {})",
                        crate::reason::service_message(&status.message),
                        crate::reason::code(&status.reason).unwrap_or_default()
                    ),
                    transient: code == 409 || code == 429 || code >= 500,
                },
            },
            other => ConsumerError::Api {
                doing,
                message: without_body(&other),
                transient: true,
            },
        }
    }

    /// RBAC does not allow this call: the error names the rule to add.
    pub fn denied(&self, message: String) -> ConsumerError {
        ConsumerError::Denied {
            verb: self.verb.into(),
            resource: self.resource.into(),
            object: format!("{}/{}", self.namespace, self.name),
            message,
            rule: self.rule(),
            alternative: self.alternative(),
        }
    }
}

/// The API server's words for a request that admission control refused:
/// a ValidatingAdmissionPolicy ("ValidatingAdmissionPolicy 'p' with binding
/// 'b' denied request: ...") or a webhook ("admission webhook \"w\" denied
/// the request: ...").
fn by_admission(message: &str) -> bool {
    message.contains("denied request") || message.contains("admission webhook")
}

impl Call<'_> {
    /// The RBAC rule that allows this call. Kubernetes checks
    /// `resourceNames` only for requests that name an object: a `create`
    /// carries no name, so such a rule could never match. A list or watch
    /// names one through a `metadata.name` field selector (seesaw's
    /// always do, and carry the name here).
    fn rule(&self) -> String {
        let names = match self.verb {
            "create" | "deletecollection" => String::new(),
            "list" | "watch" if self.name.is_empty() => String::new(),
            _ => format!(", resourceNames: [\"{}\"]", self.name),
        };
        format!(
            "{{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [\"{}\"]{names}}}",
            self.group, self.resource, self.verb
        )
    }

    /// A way out that needs no wider rule, where there is one.
    fn alternative(&self) -> String {
        match (self.verb, self.resource) {
            ("create", "secrets") => format!(
                " (it cannot be limited to one name), or create the Secret first: kubectl create \
                    secret generic {} -n {}; seesaw then only needs get and patch on it",
                self.name, self.namespace
            ),
            _ => String::new(),
        }
    }
}

/// A kube error other than the API server's own Status, in a few words:
/// an answer that is not JSON (its text is not repeated: a Secret's is
/// the credential), or why the call did not get an answer.
pub(super) fn without_body(e: &kube::Error) -> String {
    match e {
        kube::Error::SerdeError(json) => format!(
            "the API server's answer {} (its body is not shown: it may hold a credential)",
            crate::reason::json(json)
        ),
        kube::Error::Auth(_) => "no usable credentials for the API server (in a pod: the service \
            account token; elsewhere: the kubeconfig)"
            .into(),
        other => format!(
            "no answer from the API server: {}",
            crate::reason::transport(other)
        ),
    }
}

/// True for 409 Conflict (a stale resourceVersion): re-read and retry.
pub(super) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
