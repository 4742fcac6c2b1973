//! TLS for database connections, with libpq's meaning of the modes:
//! `require` encrypts without checking the certificate, `verify-full`
//! checks the chain against `ca_file` (or the system roots) and the host
//! name. There is no silent fall-back to plaintext: with `require` or
//! `verify-full`, a server without TLS is an error.

use crate::config::TlsMode;
use crate::shared::Interned;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// The client config for a TLS setting. Every target with the same setting
/// (mode and CA bundle) shares one: a config carries its own session
/// cache (about 14 KB, allocated up front), which a daemon with thousands
/// of targets would otherwise hold thousands of times, and sharing it lets
/// targets on one server resume each other's sessions.
pub fn client_config(mode: TlsMode, ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    static MADE: Interned<(TlsMode, Option<Vec<u8>>), ClientConfig> = Interned::new();
    // The bundle's content, not its path, is the key: a reload after the
    // file changed builds a new config.
    let pem = match (mode, ca_file) {
        (TlsMode::VerifyFull, Some(path)) => Some(read_bundle(path)?),
        _ => None,
    };
    MADE.get_or_make((mode, pem), |(mode, pem)| {
        build(*mode, pem.as_deref().zip(ca_file))
    })
}

fn build(mode: TlsMode, bundle: Option<(&[u8], &Path)>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|_| "TLS setup failed: no protocol version in common".to_owned())?;
    let config = match mode {
        // Never used for a handshake; tokio-postgres wants a connector anyway.
        TlsMode::Disable => builder
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
        TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        TlsMode::VerifyFull => builder
            .with_root_certificates(roots(bundle)?)
            .with_no_client_auth(),
    };
    Ok(config)
}

fn read_bundle(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "cannot read database.ca_file {}: {}",
            path.display(),
            crate::reason::cause(&e).unwrap_or_else(|| format!("{:?}", e.kind()))
        )
    })
}

/// The CA bundle's certificates (its content and where it came from), or
/// the system's roots.
fn roots(bundle: Option<(&[u8], &Path)>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match bundle {
        Some((pem, path)) => {
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|_| {
                    format!("database.ca_file {} is not a PEM bundle", path.display())
                })?;
                store.add(cert).map_err(|_| {
                    format!(
                        "database.ca_file {}: a certificate rustls cannot use",
                        path.display()
                    )
                })?;
            }
            if store.is_empty() {
                return Err(format!(
                    "database.ca_file {} holds no certificates",
                    path.display()
                ));
            }
        }
        None => {
            for cert in crate::roots::system() {
                let _ = store.add(cert.clone());
            }
            if store.is_empty() {
                return Err("tls: verify-full found no system CA certificates; set \
                    database.ca_file (for RDS, the region's CA bundle)"
                    .into());
            }
        }
    }
    Ok(store)
}

/// `tls: require`: the connection is encrypted, the server is not
/// authenticated. Handshake signatures are still checked, so the session
/// keys belong to whoever holds the presented certificate.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    /// Shared by content: the same bundle gives one config (its clones
    /// share the provider and the session cache), and a bundle whose file
    /// changed is read again.
    #[test]
    fn a_config_is_shared_per_bundle_and_a_changed_bundle_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca_pem()).unwrap();
        let first = client_config(TlsMode::VerifyFull, Some(&path)).unwrap();
        let again = client_config(TlsMode::VerifyFull, Some(&path)).unwrap();
        assert!(Arc::ptr_eq(
            first.crypto_provider(),
            again.crypto_provider()
        ));
        std::fs::write(&path, "not a certificate").unwrap();
        let err = client_config(TlsMode::VerifyFull, Some(&path)).unwrap_err();
        assert!(err.contains("holds no certificates"), "{err}");
        std::fs::write(&path, ca_pem()).unwrap();
        let other = client_config(TlsMode::VerifyFull, Some(&path)).unwrap();
        assert!(!Arc::ptr_eq(
            first.crypto_provider(),
            other.crypto_provider()
        ));
    }
}
