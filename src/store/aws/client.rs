//! The Secrets Manager client: one per region, endpoint, timeout and
//! explicit credentials, on seesaw's HTTPS stack.

use super::AwsStore;
use crate::environment::Environment;
use aws_sdk_secretsmanager::Client;

impl AwsStore {
    /// A Secrets Manager client from the default chain, one per process
    /// for each region, endpoint and timeout (`crate::shared`): clones
    /// share one connection pool and one credential cache. `timeout`
    /// bounds a call with its retries; each attempt gets a third of it, so
    /// the SDK's retries happen inside the bound. Credentials given in
    /// `env` explicitly (an access key) are used as given; otherwise the
    /// SDK's default chain finds them.
    pub async fn client(
        region: Option<&str>,
        endpoint_url: Option<&str>,
        timeout: std::time::Duration,
        env: &Environment,
    ) -> Client {
        type Key = (
            Option<String>,
            Option<String>,
            std::time::Duration,
            Option<String>,
        );
        static CLIENTS: crate::shared::PerProcess<Key, Client> = crate::shared::PerProcess::new();
        // The access key's id tells explicit credentials apart (never the
        // secret: keys may be logged by the map's users).
        let key = (
            region.map(str::to_owned),
            endpoint_url.map(str::to_owned),
            timeout,
            env.explicit("AWS_ACCESS_KEY_ID").map(str::to_owned),
        );
        let made = CLIENTS
            .get_or_make(key, || async {
                Ok::<_, std::convert::Infallible>(
                    Self::new_client(region, endpoint_url, timeout, env).await,
                )
            })
            .await;
        match made {
            Ok(client) => client,
            Err(never) => match never {},
        }
    }

    async fn new_client(
        region: Option<&str>,
        endpoint_url: Option<&str>,
        timeout: std::time::Duration,
        env: &Environment,
    ) -> Client {
        crate::install_crypto_provider();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .operation_attempt_timeout(timeout / 3)
            .operation_timeout(timeout)
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .http_client(https_client());
        if let Some(region) = region.or(env.explicit("AWS_REGION")) {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        if let (Some(id), Some(secret)) = (
            env.explicit("AWS_ACCESS_KEY_ID"),
            env.explicit("AWS_SECRET_ACCESS_KEY"),
        ) {
            loader = loader.credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                id,
                secret,
                env.explicit("AWS_SESSION_TOKEN").map(str::to_owned),
                None,
                "seesaw-environment",
            ));
        }
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Client::new(&loader.load().await)
    }
}

/// The SDK's HTTPS client on rustls (ring, as everywhere in seesaw),
/// trusting the system roots as [`crate::roots`] loads them (once, from the
/// bundle) instead of the SDK's own scan of the whole certificate
/// directory: a Lambda cold start is 2 ms shorter.
fn https_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(crate::roots::system_pem());
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Only a bundle rustls cannot use gets here: the SDK's own roots.
        Err(_) => builder.build_https(),
    }
}
