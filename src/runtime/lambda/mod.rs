//! The AWS Secrets Manager rotation function: `seesaw lambda`, or the
//! release binary as the Lambda's `bootstrap` (entered automatically when
//! `AWS_LAMBDA_RUNTIME_API` is set).
//!
//! Secrets Manager calls it four times per rotation with the same
//! `ClientRequestToken`: `createSecret`, `setSecret`, `testSecret`,
//! `finishSecret`, retrying any step that fails. Each step checks before it
//! acts, so a retry changes nothing that is already done (see `steps.rs`).
//! `setSecret` runs the same engine as the daemon: lock, the current
//! credential must log in (the confused-deputy check), the standby-session
//! and membership gates, then the password as a SCRAM verifier.

mod error;
mod event;
mod init_error;
mod invocation;
mod settings;
mod steps;
mod target;

pub use error::LambdaError;
pub use event::{Rotation, Step};
pub use invocation::Invocation;
pub use settings::Settings;

use crate::store::{AwsStore, RotationStages};
use lambda_runtime::{service_fn, LambdaEvent};

/// The rotation function as one sandbox holds it: its settings, where its
/// secrets are (one Secrets Manager client whose connections outlive an
/// invocation, so a warm sandbox skips the TLS handshakes of the next
/// step), and the master's database session, kept idle between
/// invocations (`db::Keeper`).
pub struct Function {
    pub settings: Settings,
    stores: Stores,
    pub master_session: crate::db::Keeper,
}

/// Opens the store holding the secret a rotation event names.
pub type OpenStore = dyn Fn(&str) -> Box<dyn RotationStages> + Send + Sync;

enum Stores {
    SecretsManager(aws_sdk_secretsmanager::Client),
    Given(Box<OpenStore>),
}

impl Function {
    /// The function Secrets Manager invokes: its secrets are there.
    pub async fn new(settings: Settings) -> Function {
        let secrets = AwsStore::client(
            None,
            settings.endpoint_url.as_deref(),
            crate::config::default_store_timeout(),
            &settings.environment,
        )
        .await;
        Function {
            settings,
            stores: Stores::SecretsManager(secrets),
            master_session: Default::default(),
        }
    }

    /// The same steps over other stores: `open` maps a secret id (the
    /// event's, or a secret's `masterarn`) to the store that holds it.
    pub fn with_stores(
        settings: Settings,
        open: impl Fn(&str) -> Box<dyn RotationStages> + Send + Sync + 'static,
    ) -> Function {
        Function {
            settings,
            stores: Stores::Given(Box::new(open)),
            master_session: Default::default(),
        }
    }

    /// The secret as one invocation sees it (on AWS, each version read once).
    fn store(&self, secret_id: &str) -> Box<dyn RotationStages> {
        match &self.stores {
            Stores::SecretsManager(client) => {
                Box::new(AwsStore::snapshot(client.clone(), secret_id))
            }
            Stores::Given(open) => open(secret_id),
        }
    }
}

/// Serves rotation events from the Lambda runtime API until the sandbox
/// stops. Settings come from the environment once, at cold start.
pub async fn serve() -> Result<(), String> {
    // lambda_runtime panics without its runtime API; say what is needed.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none_or(|v| v.is_empty()) {
        return Err(
            "`seesaw lambda` serves the AWS Lambda runtime API and AWS_LAMBDA_RUNTIME_API \
            is not set: deploy the binary as a Lambda function's bootstrap \
                (deploy/lambda/README.md), or run it under the Lambda Runtime Interface \
                    Emulator. To rotate from a shell, use `seesaw rotate TARGET`"
                .into(),
        );
    }
    // lambda_runtime also panics without these; Lambda always sets them.
    for (var, number) in [
        ("AWS_LAMBDA_FUNCTION_NAME", false),
        ("AWS_LAMBDA_FUNCTION_VERSION", false),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", true),
    ] {
        let value = std::env::var(var).unwrap_or_default();
        if value.is_empty() || (number && value.parse::<i32>().is_err()) {
            return Err(format!(
                "{var} is {}: the Lambda runtime sets it; under an emulator set \
                it yourself (e.g. AWS_LAMBDA_FUNCTION_NAME=seesaw \
                    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
                        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128)",
                if value.is_empty() {
                    "not \
                            set"
                    .to_owned()
                } else {
                    format!("{value:?}, not a number")
                }
            ));
        }
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            let message = e.to_string();
            if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
                if let Err(why) = init_error::report(&api, "Fatal.settings", &message).await {
                    tracing::warn!("{why}");
                }
            }
            return Err(message);
        }
    };
    let function = &Function::new(settings).await;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<
            aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent,
        >| async move {
            let rotation = Rotation::try_from(event.payload)?;
            function
                .handle(&rotation, &Invocation::new(event.context.deadline))
                .await
        },
    ))
    .await
    .map_err(|e| format!("the Lambda runtime stopped: {e}"))
}
