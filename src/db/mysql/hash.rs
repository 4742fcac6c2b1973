//! The password hashes MariaDB stores, computed here so the plaintext never
//! reaches the server: MariaDB writes `IDENTIFIED BY 'pw'` and even
//! `PASSWORD('pw')` verbatim to its general log, slow log and binlog, but a
//! statement carrying the hash shows only the hash.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use sha2::Sha512;

/// `mysql_native_password`: `*` + upper-case hex of SHA1(SHA1(password)).
pub fn native(password: &[u8]) -> String {
    let inner = Sha1::digest(password);
    let outer = Sha1::digest(inner);
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in outer {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// MariaDB's `ed25519` plugin: the Ed25519 public key whose secret seed is
/// the password (of any length: the scalar is the clamped first half of
/// SHA-512 of the password bytes), as unpadded standard base64 (43 chars).
pub fn ed25519(password: &[u8]) -> String {
    let digest = Sha512::digest(password);
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&digest[..32]);
    let point = curve25519_dalek::EdwardsPoint::mul_base_clamped(scalar);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(point.compress().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_matches_the_servers_password_function() {
        // SELECT PASSWORD('password') on MariaDB / MySQL 5.7.
        assert_eq!(
            native(b"password"),
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
    }

    #[test]
    fn ed25519_of_the_empty_password_is_the_published_value() {
        assert_eq!(ed25519(b""), "4LH+dBF+G5W2CKTyId8xR3SyDqZoQjUNUVNxx8aWbG4");
        assert_eq!(ed25519(b"x").len(), 43);
        assert_ne!(ed25519(b"x"), ed25519(b"y"));
    }
}
