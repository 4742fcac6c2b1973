//! Secret Manager errors: what failed and what to do, never a value.

use super::*;

impl GcpStore {
    /// Maps a client error: the operation, the status, the service's code
    /// and a short reason; never the client error's own text, which
    /// quotes an answer it could not parse (an access answer is the
    /// secret).
    pub(super) fn error(&self, permission: &str, e: google_cloud_gax::error::Error) -> StoreError {
        let store = self.name();
        if e.is_timeout() {
            return StoreError::Transient {
                store,
                reason: format!("{permission}: no answer in time (store.gcp.timeout)"),
            };
        }
        // A transport error that still carries an HTTP status is an
        // answer: classified below, by its status.
        if (e.is_connect() || e.is_io() || e.is_transport()) && e.http_status_code().is_none() {
            return StoreError::Transient {
                store,
                reason: format!(
                    "{permission}: cannot reach Secret Manager ({})",
                    reason::transport(&e)
                ),
            };
        }
        if e.is_authentication() {
            return StoreError::Other {
                store,
                message: "no usable credentials; on GKE enable Workload Identity for seesaw's \
                    service account, elsewhere set GOOGLE_APPLICATION_CREDENTIALS"
                    .into(),
            };
        }
        let status = e.status();
        let code = status.map(|s| s.code);
        let http = e.http_status_code();
        let said = match status {
            Some(s) => format!(" ({:?}: {})", s.code, reason::service_message(&s.message)),
            None => String::new(),
        };
        match (code, http) {
            (Some(Code::NotFound), _) | (None, Some(404)) => StoreError::NotFound {
                store,
                hint: format!(
                    "check store.gcp.project and store.gcp.secret, or create it with \
                    the active user's credential as its first version (gcloud secrets create {} \
                        --data-file=secret.json)",
                    self.secret.rsplit('/').next().unwrap_or_default()
                ),
            },
            (Some(Code::PermissionDenied | Code::Unauthenticated), _) | (None, Some(401 | 403)) => {
                StoreError::Denied {
                    store,
                    permission: permission.into(),
                    policy: POLICY.into(),
                }
            }
            (
                Some(
                    Code::ResourceExhausted
                    | Code::Unavailable
                    | Code::Internal
                    | Code::DeadlineExceeded
                    | Code::Aborted,
                ),
                _,
            ) => StoreError::Transient {
                store,
                reason: format!("{permission}{said}"),
            },
            (_, Some(s)) if s == 429 || s >= 500 => StoreError::Transient {
                store,
                reason: format!("{permission}: HTTP {s}"),
            },
            (Some(_), _) => StoreError::Other {
                store,
                message: format!("{permission}{said}"),
            },
            // Not a Google error document, or an answer the client could
            // not parse: its body is not repeated (it may be the secret).
            (None, http) => StoreError::Other {
                store,
                message: format!(
                    "{permission}: unexpected answer{} that is not Secret Manager's (its body is \
                        not shown: it may hold the secret); check store.gcp.endpoint and any \
                            proxy in between",
                    http.map(|s| format!(" HTTP {s}")).unwrap_or_default()
                ),
            },
        }
    }
}
