//! SDK errors as store errors: the operation, the status, the service's
//! error code and a short reason; never the SDK error's own text, which
//! quotes the raw answer when it cannot parse one (and the answer to
//! GetSecretValue is the secret).

use super::{AwsStore, POLICY};
use crate::reason;
use crate::store::StoreError;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

impl AwsStore {
    /// Maps an SDK error: what failed, and what to do.
    pub(super) fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        action: &str,
        e: SdkError<E>,
    ) -> StoreError {
        let store = self.name();
        let status = e.raw_response().map(|r| r.status().as_u16());
        let http = status.map(|s| format!(" HTTP {s}")).unwrap_or_default();
        if is_missing_credentials(&e) {
            // Retrying cannot help: nothing will appear by itself.
            return StoreError::Denied {
                store,
                permission: format!(
                    "AWS credentials for secretsmanager:{action} (none were \
                    found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use \
                        IRSA's AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or run where an \
                            instance or task role is available)"
                ),
                policy: POLICY.into(),
            };
        }
        match &e {
            SdkError::DispatchFailure(_) => {
                return StoreError::Transient {
                    store,
                    reason: format!(
                        "{action}: cannot reach Secrets Manager ({})",
                        reason::transport(&e)
                    ),
                }
            }
            SdkError::TimeoutError(_) => {
                return StoreError::Transient {
                    store,
                    reason: match self
                        .client
                        .config()
                        .timeout_config()
                        .and_then(|t| t.operation_timeout())
                    {
                        // The same words as the Bounded decorator's: both
                        // timers are the store's `timeout` and either may
                        // fire first.
                        Some(t) => format!(
                            "{action}: no answer within {} (the store's `timeout`); check \
                            the endpoint and the network path to it",
                            crate::duration::format(t)
                        ),
                        None => format!("{action}: no answer in time"),
                    },
                };
            }
            SdkError::ConstructionFailure(_) => {
                return StoreError::Other {
                    store,
                    message: format!(
                        "{action}: the request could not be built; check \
                        store.aws.secret_id and region"
                    ),
                }
            }
            // A body the SDK could not parse: it is not repeated, since
            // it may be the secret.
            SdkError::ResponseError(_) => {
                return if status.is_some_and(|s| s == 429 || s >= 500) {
                    StoreError::Transient {
                        store,
                        reason: format!(
                            "{action}:{http} with an answer that is not Secrets \
                            Manager's"
                        ),
                    }
                } else {
                    unexpected(store, action, &http)
                };
            }
            _ => {}
        }
        let code = e.code().and_then(reason::code).unwrap_or("").to_owned();
        let message = reason::service_message(e.message().unwrap_or(""));
        match code.as_str() {
            "ThrottlingException"
            | "TooManyRequestsException"
            | "InternalServiceError"
            | "ServiceUnavailable"
            | "RequestTimeout" => StoreError::Transient {
                store,
                reason: format!("{action}: {code}"),
            },
            "ResourceNotFoundException" => StoreError::NotFound {
                store,
                hint: format!(
                    "{action}: {message}; check store.aws.secret_id and region, or \
                    create the secret with the active user's credential as its current value"
                ),
            },
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException" => StoreError::Denied {
                store,
                permission: format!("secretsmanager:{action}"),
                policy: POLICY.into(),
            },
            _ if status.is_some_and(|s| s == 429 || s >= 500) => StoreError::Transient {
                store,
                reason: format!(
                    "{action}:{http}{}",
                    if code.is_empty() {
                        String::new()
                    } else {
                        format!(" {code}")
                    }
                ),
            },
            // Not an AWS error document (a proxy's page, a wrong
            // endpoint_url).
            "" => unexpected(store, action, &http),
            _ => StoreError::Other {
                store,
                message: format!("{action}:{http} {code}: {message}"),
            },
        }
    }
}

fn unexpected(store: String, action: &str, http: &str) -> StoreError {
    StoreError::Other {
        store,
        message: format!(
            "{action}: unexpected answer{http} that is not Secrets Manager's (its body is not \
                shown: it may hold the secret); check store.aws.endpoint_url and any proxy in \
                    between"
        ),
    }
}

/// The SDK's words when the credential chain found nothing. The text is
/// searched, never shown.
pub(super) fn is_missing_credentials<E: std::error::Error + 'static>(e: &SdkError<E>) -> bool {
    let c = aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        .to_string()
        .to_ascii_lowercase();
    c.contains("no credentials")
        || c.contains("credentialsnotloaded")
        || c.contains("failed to load credentials")
        || c.contains("could not load credentials")
}
