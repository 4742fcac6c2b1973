//! Password policy and generation.
//!
//! Passwords come from the operating system's CSPRNG, uniformly over the
//! allowed alphabet, and contain at least one character of each enabled
//! class so that database-side complexity checks accept them.

use rand::rngs::SysRng;
use rand::RngExt;
use secrecy::SecretString;
use serde::Deserialize;

/// Symbols that survive shells, YAML, JSON and connection strings without
/// quoting surprises. Quotes, backslash, backtick, `$`, `&` and space are
/// left out; URL-reserved characters (`@:/?#%`) are kept on purpose, because
/// templates must percent-encode them anyway and tests prove they do.
pub const SYMBOLS: &str = "!#%()*+,-./:;<=>?@[]^_{|}~";

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Number of characters. 32 by default.
    #[serde(default = "default_length")]
    pub length: usize,
    /// Characters never to use (for a driver or a shell that mishandles them).
    #[serde(default)]
    pub exclude: String,
    /// Include symbols. Letters and digits are always used.
    #[serde(default = "yes")]
    pub symbols: bool,
}

fn default_length() -> usize {
    32
}
fn yes() -> bool {
    true
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            length: default_length(),
            exclude: String::new(),
            symbols: true,
        }
    }
}

pub const MIN_LENGTH: usize = 16;
pub const MAX_LENGTH: usize = 1024;

impl PasswordPolicy {
    /// The character classes in use, each already filtered by `exclude`.
    fn classes(&self) -> Vec<Vec<char>> {
        let mut classes = vec![
            ('a'..='z').collect::<Vec<_>>(),
            ('A'..='Z').collect(),
            ('0'..='9').collect(),
        ];
        if self.symbols {
            classes.push(SYMBOLS.chars().collect());
        }
        classes
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .filter(|ch| !self.exclude.contains(*ch))
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect()
    }

    /// Why this policy cannot produce good passwords, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&self.length) {
            return Err(format!(
                "expected a length between {MIN_LENGTH} and {MAX_LENGTH}, got {}",
                self.length
            ));
        }
        let alphabet: usize = self.classes().iter().map(Vec::len).sum();
        if alphabet < 32 {
            return Err(format!(
                "`exclude` leaves only {alphabet} usable characters; at least 32 are needed"
            ));
        }
        Ok(())
    }

    /// Why `password` is not one this policy would generate, if it is not:
    /// its length, a character outside the alphabet, a missing class. The
    /// reason never quotes the password.
    pub fn admits(&self, password: &str) -> Result<(), String> {
        let length = password.chars().count();
        if length != self.length {
            return Err(format!(
                "it has {length} characters and password.length is {}",
                self.length
            ));
        }
        let classes = self.classes();
        if !password
            .chars()
            .all(|ch| classes.iter().any(|class| class.contains(&ch)))
        {
            return Err(
                "it holds a character the password policy does not use (password.exclude, \
                    password.symbols)"
                    .into(),
            );
        }
        if !classes
            .iter()
            .all(|class| password.chars().any(|ch| class.contains(&ch)))
        {
            return Err(
                "it lacks a character class the policy always uses (lower and upper case \
                letters, digits and, with password.symbols, a symbol)"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn generate(&self) -> SecretString {
        let classes = self.classes();
        let alphabet: Vec<char> = classes.iter().flatten().copied().collect();
        // The OS's generator, each draw (a failure of it panics, as it must:
        // there is no safe fallback for a password).
        let mut rng = rand::rand_core::UnwrapErr(SysRng);
        loop {
            let candidate: String = (0..self.length)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            // Rejection sampling keeps every accepted password uniform among
            // those that hold each class; with >= 16 characters a retry is rare.
            if classes
                .iter()
                .all(|class| candidate.chars().any(|ch| class.contains(&ch)))
            {
                return SecretString::from(candidate);
            }
        }
    }
}

/// `N` bytes from the operating system's generator (tokens, unknowable
/// hashes): the one source of randomness for anything secret.
pub fn os_random<const N: usize>() -> [u8; N] {
    use rand::Rng;
    let mut bytes = [0u8; N];
    rand::rand_core::UnwrapErr(SysRng).fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generates_the_length_and_classes_asked_for() {
        let policy = PasswordPolicy::default();
        for _ in 0..200 {
            let p = policy.generate();
            let p = p.expose_secret();
            assert_eq!(p.chars().count(), 32);
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| SYMBOLS.contains(c)));
            assert!(!p.contains(['\'', '"', '\\', ' ', '$']));
        }
    }

    #[test]
    fn the_policy_admits_what_it_generates_and_nothing_else() {
        let policy = PasswordPolicy {
            exclude: "xyz".into(),
            ..Default::default()
        };
        for _ in 0..50 {
            assert_eq!(policy.admits(policy.generate().expose_secret()), Ok(()));
        }
        let short = policy.admits("pending-pw").unwrap_err();
        assert!(
            short.contains("10 characters") && short.contains("32"),
            "{short}"
        );
        let excluded = format!("x{}", &policy.generate().expose_secret()[1..]);
        assert!(policy.admits(&excluded).unwrap_err().contains("exclude"));
        let lower = "a".repeat(32);
        assert!(policy.admits(&lower).unwrap_err().contains("class"));
        // No reason quotes the password.
        for bad in ["pending-pw", excluded.as_str(), lower.as_str()] {
            assert!(!policy.admits(bad).unwrap_err().contains(bad));
        }
    }

    #[test]
    fn exclude_is_honoured() {
        let policy = PasswordPolicy {
            length: 64,
            exclude: "@:/?#%abc".into(),
            symbols: true,
        };
        policy.validate().unwrap();
        for _ in 0..100 {
            assert!(!policy
                .generate()
                .expose_secret()
                .contains(['@', ':', '/', '?', '#', '%', 'a', 'b', 'c']));
        }
    }

    #[test]
    fn bad_policies_are_explained() {
        let short = PasswordPolicy {
            length: 8,
            ..Default::default()
        };
        assert!(short.validate().unwrap_err().contains("between 16"));
        let starved = PasswordPolicy {
            length: 32,
            exclude: ('a'..='z').chain('A'..='Z').collect(),
            symbols: false,
        };
        assert!(starved
            .validate()
            .unwrap_err()
            .contains("usable characters"));
    }

    #[test]
    fn two_passwords_differ() {
        let p = PasswordPolicy::default();
        assert_ne!(p.generate().expose_secret(), p.generate().expose_secret());
    }
}
