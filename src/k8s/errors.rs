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
            kube::Error::Api(status) => match status.code {
                403 => ConsumerError::Denied {
                    verb: self.verb.into(),
                    resource: self.resource.into(),
                    object,
                    message: status.message.clone(),
                    rule: self.rule(),
                    alternative: self.alternative(),
                },
                404 => ConsumerError::NotFound {
                    kind: self.resource.trim_end_matches('s').into(),
                    object,
                    hint: "check the name and namespace in the target's `kubernetes:` config"
                        .into(),
                },
                code => ConsumerError::Api {
                    doing,
                    message: format!("{} ({code} {})", status.message, status.reason),
                    transient: code == 409 || code == 429 || code >= 500,
                },
            },
            other => ConsumerError::Api {
                doing,
                message: other.to_string(),
                transient: true,
            },
        }
    }
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
                " (it cannot be limited to one name), or create the Secret first: kubectl create secret generic {} -n {}; seesaw then only needs get and patch on it",
                self.name, self.namespace
            ),
            _ => String::new(),
        }
    }
}

/// True for 409 Conflict (a stale resourceVersion): re-read and retry.
pub(super) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
