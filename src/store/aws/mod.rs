//! AWS Secrets Manager. Current = `AWSCURRENT`, previous = `AWSPREVIOUS`.
//!
//! Pending = `AWSPENDING`. Stage puts the new document as a version staged
//! `AWSPENDING`, with the rotation's token as `ClientRequestToken` (a
//! retried call does not create a second version). Promote moves
//! `AWSCURRENT` onto it with `RemoveFromVersionId` = the version read
//! before: Secrets Manager refuses the move if `AWSCURRENT` is elsewhere by
//! then, which is our compare-and-swap. AWS moves `AWSPREVIOUS` itself;
//! then `AWSPENDING` is dropped. A pending version with a value is returned
//! by `read` so the engine can resume it; one without a value (registered
//! by `RotateSecret` for a rotation function) cannot be resumed and is
//! reported with the command that clears it, never overwritten.
//!
//! `published_at` is the creation date of the `AWSCURRENT` version (it was
//! staged moments before it was promoted); `DescribeSecret`'s
//! `LastChangedDate` would also move when a pending version is written.
//!
//! Credentials come from the default chain: environment, profile, IRSA web
//! identity, ECS, IMDS.
//!
//! A *snapshot* store ([`AwsStore::snapshot`], the Lambda's, one per
//! invocation) describes the secret once and reads each version once, by
//! its id: every later read in the same invocation is answered from what
//! was read (a write forgets the stage map). The daemon and the CLI read
//! afresh every time, because they read again under the lock on purpose.

mod client;
mod errors;
mod rotation_stages;
mod secret_store;
mod stages;
mod versions;

use crate::config::AwsStoreConfig;
use crate::environment::Environment;
use crate::store::Versioned;
use aws_sdk_secretsmanager::Client;

const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";
const PENDING: &str = "AWSPENDING";
const POLICY: &str = "policies/aws/README.md";
const GET: &str = "GetSecretValue";
const DESCRIBE: &str = "DescribeSecret";
const PUT: &str = "PutSecretValue";
const STAGE: &str = "UpdateSecretVersionStage";

pub struct AwsStore {
    client: Client,
    secret_id: String,
    snapshot: Option<std::sync::Mutex<Snapshot>>,
}

type Stages = std::collections::HashMap<String, Vec<String>>;

/// What one invocation has read: the stage map, and each version by id
/// (`None`: registered by RotateSecret without a value yet).
#[derive(Default)]
struct Snapshot {
    stages: Option<Stages>,
    versions: std::collections::HashMap<String, Option<Read>>,
}

#[derive(Clone)]
struct Read {
    versioned: Versioned,
    created: Option<chrono::DateTime<chrono::Utc>>,
}

impl AwsStore {
    /// Every IAM action this store uses, in the `secretsmanager:`
    /// namespace (policies/aws grants these).
    pub const PERMISSIONS: [&'static str; 4] = [GET, DESCRIBE, PUT, STAGE];

    pub async fn connect(config: &AwsStoreConfig, env: &Environment) -> AwsStore {
        let client = Self::client(
            config.region.as_deref(),
            config.endpoint_url.as_deref(),
            config.timeout,
            env,
        )
        .await;
        Self::with_client(client, &config.secret_id)
    }

    pub fn with_client(client: Client, secret_id: &str) -> AwsStore {
        AwsStore {
            client,
            secret_id: secret_id.to_owned(),
            snapshot: None,
        }
    }

    /// A store for one short unit of work (a Lambda invocation) that reads
    /// each version at most once; see the module's doc.
    pub fn snapshot(client: Client, secret_id: &str) -> AwsStore {
        AwsStore {
            snapshot: Some(Default::default()),
            ..Self::with_client(client, secret_id)
        }
    }

    fn remembered<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> Option<T> {
        // A poisoned lock only means a panic elsewhere; the map is still whole.
        self.snapshot
            .as_ref()
            .map(|m| f(&mut m.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// After a write the stage map is stale: read it again when asked.
    fn forget_stages(&self) {
        self.remembered(|s| s.stages = None);
    }

    fn name(&self) -> String {
        format!("aws secret {}", self.secret_id)
    }
}
