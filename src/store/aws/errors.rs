//! SDK errors as store errors: what failed and what to do, never the
//! request (it may hold the secret string).

use super::{AwsStore, POLICY};
use crate::store::StoreError;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

impl AwsStore {
    /// Maps an SDK error: what failed, and what to do. Never the request
    /// (it may hold the secret string).
    pub(super) fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        action: &str,
        e: SdkError<E>,
    ) -> StoreError {
        let store = self.name();
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().unwrap_or("").to_owned();
        let message = e.message().unwrap_or("").to_owned();
        let context = aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string();
        if is_missing_credentials(&context) {
            // Retrying cannot help: nothing will appear by itself.
            return StoreError::Denied {
                store,
                permission: format!("AWS credentials for secretsmanager:{action} (none were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use IRSA's AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or run where an instance or task role is available)"),
                policy: POLICY.into(),
            };
        }
        match (&e, code.as_str()) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => StoreError::Transient {
                store,
                reason: format!("{action}: cannot reach Secrets Manager ({})", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)),
            },
            (_, "ThrottlingException" | "TooManyRequestsException" | "InternalServiceError" | "ServiceUnavailable" | "RequestTimeout") => {
                StoreError::Transient { store, reason: format!("{action}: {code}") }
            }
            (_, "ResourceNotFoundException") => StoreError::NotFound {
                store,
                hint: format!("{action}: {message}; check store.aws.secret_id and region, or create the secret with the active user's credential as its current value"),
            },
            (_, "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException") => StoreError::Denied {
                store,
                permission: format!("secretsmanager:{action}"),
                policy: POLICY.into(),
            },
            _ if status.is_some_and(|s| s == 429 || s >= 500) => StoreError::Transient {
                store,
                reason: format!("{action}: HTTP {}", status.unwrap_or(0)),
            },
            _ if code.is_empty() && message.is_empty() => StoreError::Other {
                store,
                // Not an AWS error document (a proxy's page, a wrong
                // endpoint_url): say what came back.
                message: format!(
                    "{action}: unexpected answer{} ({context}); check store.aws.endpoint_url and any proxy in between",
                    status.map(|s| format!(" HTTP {s}")).unwrap_or_default()
                ),
            },
            _ => StoreError::Other {
                store,
                message: format!("{action}: {code} {message}"),
            },
        }
    }
}

/// The SDK's words when the credential chain found nothing.
pub(super) fn is_missing_credentials(context: &str) -> bool {
    let c = context.to_ascii_lowercase();
    c.contains("no credentials")
        || c.contains("credentialsnotloaded")
        || c.contains("failed to load credentials")
        || c.contains("could not load credentials")
}
