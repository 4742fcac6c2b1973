//! Short, secret-free reasons made from other crates' errors.
//!
//! An SDK error may hold the raw response it failed to parse, and the
//! answer to a read is the secret itself; a serde error quotes the value it
//! could not take; a client error's `Debug` prints its request. So no error
//! of another crate is ever formatted whole (`{e}`, `{e:?}`, `to_string()`,
//! an error-context wrapper): a message carries the operation, the status,
//! a code, and one of the short reasons built here from typed parts (an OS
//! error, a timeout, a TLS failure, a JSON position). `tests/architecture`
//! fails the build when a store, client or driver formats one.

use std::error::Error;

/// What went wrong on the way to a server, found in an error's chain: an
/// OS error (connection refused, no route), a timeout, a TLS failure.
/// Never the error's own text, which may quote an answer.
pub fn transport(e: &(dyn Error + 'static)) -> String {
    cause(e).unwrap_or_else(|| "the connection failed or closed early".into())
}

/// The OS error, timeout or TLS failure in an error's chain, if there is
/// one: the part of a setup or connection failure a person can act on.
pub fn cause(e: &(dyn Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    let mut timed_out = false;
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // An OS error's text is the system's own (strerror).
            if io.raw_os_error().is_some() {
                return Some(io.to_string());
            }
            if io.kind() == std::io::ErrorKind::TimedOut {
                timed_out = true;
            }
            // An error wrapped in an io::Error (rustls's, under a TLS
            // stream) is its payload, which `source()` skips.
            if let Some(inner) = io.get_ref() {
                next = Some(inner as &(dyn Error + 'static));
                continue;
            }
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(format!("TLS: {}", tls_reason(tls)));
        }
        if cause.is::<tokio::time::error::Elapsed>() {
            timed_out = true;
        }
        next = cause.source();
    }
    timed_out.then(|| "timed out".into())
}

/// An error's own first clause, before the `: ` where its cause would
/// follow ("failed to parse kubeconfig YAML"), plus the OS error or TLS
/// failure underneath if any: for setup errors whose causes may quote a
/// file's content (a kubeconfig's token, a key).
pub fn headline(e: &(dyn Error + 'static)) -> String {
    let text = e.to_string();
    let first = text.split(": ").next().unwrap_or_default();
    let first = service_message(first);
    match cause(e) {
        Some(c) => format!("{first} ({c})"),
        None => first,
    }
}

/// rustls's errors are enums of fixed words, except `General` and
/// `Other`, whose text comes from elsewhere.
fn tls_reason(e: &rustls::Error) -> String {
    match e {
        rustls::Error::General(_) | rustls::Error::Other(_) => "the handshake failed".into(),
        // rustls's own words: a certificate's problem, an alert, a
        // protocol error.
        other => other.to_string(),
    }
}

/// Why a JSON answer or document could not be taken, with its position:
/// never serde's text, which quotes the value it refused.
pub fn json(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Data => "does not have the expected fields and types",
        Category::Eof => "ends early (cut off?)",
    };
    if e.line() == 0 {
        what.into()
    } else {
        format!("{what} at line {}, column {}", e.line(), e.column())
    }
}

/// A code from a server's error document (`ThrottlingException`,
/// `PERMISSION_DENIED`, `SecretNotFound`), if it looks like one: a short
/// word of letters, digits and `_.:-`. Anything else is not a code and is
/// not repeated.
pub fn code(text: &str) -> Option<&str> {
    let ok = (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    ok.then_some(text)
}

/// The message of a well-formed error document (the service's own words,
/// such as "Secrets Manager can't find the specified secret."): one line
/// of printable text, cut at 200 characters. Only for documents the
/// service parsed as errors, never for a body that failed to parse.
pub fn service_message(text: &str) -> String {
    const MAX: usize = 200;
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    match clean.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &clean[..at]),
        None => clean.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reasons_never_quote_the_value() {
        let canary = "Canary-Secret-1";
        let cases = [
            format!("{{\"password\": \"{canary}"),
            format!("{{\"port\": \"{canary}\"}}"),
            format!("[\"{canary}\" x]"),
        ];
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            port: u16,
        }
        for text in cases {
            let e = serde_json::from_str::<Doc>(&text).unwrap_err();
            // The raw error does quote it, which is why this module exists.
            let reason = json(&e);
            assert!(!reason.contains(canary), "{reason}");
            assert!(reason.contains("line 1"), "{reason}");
        }
        let e = serde_json::from_str::<Doc>(&format!("{{\"port\": \"{canary}\"}}")).unwrap_err();
        assert!(e.to_string().contains(canary), "serde changed: {e}");
    }

    #[test]
    fn codes_are_words_and_nothing_else() {
        assert_eq!(code("ThrottlingException"), Some("ThrottlingException"));
        assert_eq!(code("PERMISSION_DENIED"), Some("PERMISSION_DENIED"));
        assert_eq!(code("<html>"), None);
        assert_eq!(code("a b"), None);
        assert_eq!(code(""), None);
        assert_eq!(code(&"x".repeat(65)), None);
    }

    #[test]
    fn service_messages_are_one_short_line() {
        assert_eq!(service_message(" not\nfound "), "not found");
        let long = service_message(&"é".repeat(500));
        assert_eq!(long.chars().count(), 203);
    }

    #[test]
    fn headlines_stop_before_the_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("failed to parse kubeconfig YAML: {0}")]
        struct Parse(String);
        let e = Parse("invalid type: string \"token-Canary\"".into());
        assert_eq!(headline(&e), "failed to parse kubeconfig YAML");
    }

    #[test]
    fn transport_names_the_os_error_or_a_class() {
        let refused = std::io::Error::from_raw_os_error(111);
        assert!(
            transport(&refused).contains("refused"),
            "{}",
            transport(&refused)
        );
        let custom = std::io::Error::other("body: Canary-Secret-1");
        assert!(!transport(&custom).contains("Canary"));
        let timeout = std::io::Error::new(std::io::ErrorKind::TimedOut, "Canary");
        assert_eq!(transport(&timeout), "timed out");
        // rustls's error inside an io::Error, as a TLS stream reports it.
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(
            transport(&tls),
            "TLS: invalid peer certificate: UnknownIssuer"
        );
    }
}
