//! The system's trust roots, loaded once per process and shared by every
//! TLS client (the database's `verify-full`, the AWS SDK, Azure).
//!
//! `rustls-native-certs` reads the CA bundle *and* every file of the
//! certificate directory (about 300 on Debian): 2.7 ms against 0.4 ms for
//! the bundle alone, measured here, paid at every Lambda cold start and,
//! before this cache, at every database connection setup. Where the
//! distribution keeps a bundle (Debian, Ubuntu, Alpine, Amazon Linux,
//! RHEL, SUSE: `update-ca-certificates` / `update-ca-trust` write the
//! bundle from the same sources as the directory), the bundle is read. An
//! operator's `SSL_CERT_FILE` names the bundle; `SSL_CERT_DIR` asks for the
//! directory too, and then the full native loader runs.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::sync::LazyLock;

/// Where distributions keep the bundle (openssl-probe's list, in order).
const BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

static SYSTEM: LazyLock<Vec<CertificateDer<'static>>> = LazyLock::new(load);

/// The system's trust roots (possibly empty: the caller says what to set).
pub fn system() -> &'static [CertificateDer<'static>] {
    &SYSTEM
}

/// The same roots as one PEM bundle, for clients that take PEM.
pub fn system_pem() -> Vec<u8> {
    use base64::Engine;
    let mut pem = Vec::new();
    for cert in system() {
        let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

fn load() -> Vec<CertificateDer<'static>> {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if !set("SSL_CERT_DIR") {
        let file = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
        let candidates: Vec<std::path::PathBuf> = match file {
            Some(f) => vec![f.into()],
            None => BUNDLES.iter().map(Into::into).collect(),
        };
        for path in candidates {
            if let Ok(pem) = std::fs::read(&path) {
                let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
                    .filter_map(Result::ok)
                    .collect();
                if !certs.is_empty() {
                    return certs;
                }
            }
        }
    }
    rustls_native_certs::load_native_certs().certs
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pem_form_holds_the_same_certificates() {
        use rustls::pki_types::pem::PemObject;
        let pem = super::system_pem();
        let again: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(again.as_slice(), super::system());
    }
}
