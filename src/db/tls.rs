//! TLS for database connections, with libpq's meaning of the modes:
//! `require` encrypts without checking the certificate, `verify-full`
//! checks the chain against `ca_file` (or the system roots) and the host
//! name. There is no silent fall-back to plaintext: with `require` or
//! `verify-full`, a server without TLS is an error.

use crate::config::TlsMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

pub fn client_config(mode: TlsMode, ca_file: Option<&Path>) -> Result<ClientConfig, String> {
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
            .with_root_certificates(roots(ca_file)?)
            .with_no_client_auth(),
    };
    Ok(config)
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read database.ca_file {}: {}",
                    path.display(),
                    crate::reason::cause(&e).unwrap_or_else(|| format!("{:?}", e.kind()))
                )
            })?;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
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
