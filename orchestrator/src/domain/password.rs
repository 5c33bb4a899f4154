//! Password policy, generation and argon2id hashing.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 6;
/// Longest accepted password, in characters.
pub const MAX_LEN: usize = 16;

/// A character class a password must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    /// a-z and other lower-case letters.
    Lower,
    /// A-Z and other upper-case letters.
    Upper,
    /// 0-9.
    Digit,
    /// Anything that is not a letter, digit, space or control character.
    Special,
}

impl CharClass {
    fn describe(self) -> &'static str {
        match self {
            CharClass::Lower => "a lower-case letter",
            CharClass::Upper => "an upper-case letter",
            CharClass::Digit => "a digit",
            CharClass::Special => "a special character (e.g. !#%&*-_.)",
        }
    }
}

/// Why a password does not meet the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Too short or too long.
    #[error("password must be {MIN_LEN} to {MAX_LEN} characters long (it has {0})")]
    Length(usize),
    /// Contains spaces or control characters.
    #[error("password must not contain spaces or control characters")]
    Whitespace,
    /// Misses one or more character classes.
    #[error("password is missing {}", describe(.0))]
    Missing(Vec<CharClass>),
}

fn describe(missing: &[CharClass]) -> String {
    missing
        .iter()
        .map(|c| c.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A password that meets the policy.
#[derive(Clone)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

impl NewPassword {
    /// Checks `s` against the policy: 6–16 characters with lower case, upper case, a
    /// digit and a special character.
    pub fn parse(s: &str) -> Result<NewPassword, PolicyError> {
        let n = s.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(PolicyError::Length(n));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PolicyError::Whitespace);
        }
        let mut missing = Vec::new();
        if !s.chars().any(char::is_lowercase) {
            missing.push(CharClass::Lower);
        }
        if !s.chars().any(char::is_uppercase) {
            missing.push(CharClass::Upper);
        }
        if !s.chars().any(|c| c.is_ascii_digit()) {
            missing.push(CharClass::Digit);
        }
        if !s.chars().any(|c| !c.is_alphanumeric()) {
            missing.push(CharClass::Special);
        }
        if missing.is_empty() {
            Ok(NewPassword(s.to_owned()))
        } else {
            Err(PolicyError::Missing(missing))
        }
    }

    /// A random password that meets the policy (16 characters).
    pub fn generate() -> NewPassword {
        const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
        const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        const DIGIT: &[u8] = b"23456789";
        const SPECIAL: &[u8] = b"!#%+-.:=?@_";
        let mut rng = rand::rng();
        let mut pick = |set: &[u8]| set[rng.random_range(0..set.len())] as char;
        let mut chars: Vec<char> = vec![pick(LOWER), pick(UPPER), pick(DIGIT), pick(SPECIAL)];
        let all: Vec<u8> = [LOWER, UPPER, DIGIT, SPECIAL].concat();
        while chars.len() < MAX_LEN {
            chars.push(pick(&all));
        }
        let mut rng = rand::rng();
        for i in (1..chars.len()).rev() {
            chars.swap(i, rng.random_range(0..=i));
        }
        NewPassword(chars.into_iter().collect())
    }

    /// The password itself (to show once, or to hash).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB (at least 8).
    pub memory_kib: u32,
    /// Passes over memory (at least 1).
    pub iterations: u32,
}

impl Default for HashCost {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// Hashing failed (only on invalid cost parameters).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes `password` with argon2id into a PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str, cost: HashCost) -> Result<String, HashError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| HashError(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// True when `password` matches the PHC string `phc` (argon2id only).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn each_missing_class_is_named() {
        let e = NewPassword::parse("abcdef").unwrap_err();
        assert_eq!(
            e,
            PolicyError::Missing(vec![CharClass::Upper, CharClass::Digit, CharClass::Special])
        );
        let msg = e.to_string();
        assert!(msg.contains("an upper-case letter"), "{msg}");
        assert!(msg.contains("a digit"), "{msg}");
        assert!(msg.contains("a special character"), "{msg}");
        assert_eq!(
            NewPassword::parse("ABCD1!").unwrap_err(),
            PolicyError::Missing(vec![CharClass::Lower])
        );
        assert_eq!(
            NewPassword::parse("abCD!x").unwrap_err(),
            PolicyError::Missing(vec![CharClass::Digit])
        );
        assert_eq!(
            NewPassword::parse("abCD1x").unwrap_err(),
            PolicyError::Missing(vec![CharClass::Special])
        );
    }

    #[test]
    fn length_bounds() {
        assert_eq!(
            NewPassword::parse("aB1!x").unwrap_err(),
            PolicyError::Length(5)
        );
        assert!(NewPassword::parse("aB1!xy").is_ok());
        assert!(NewPassword::parse("aB1!xyzwvutsrqpo").is_ok());
        assert_eq!(
            NewPassword::parse("aB1!xyzwvutsrqpon").unwrap_err(),
            PolicyError::Length(17)
        );
        assert_eq!(
            NewPassword::parse("aB1! xy").unwrap_err(),
            PolicyError::Whitespace
        );
    }

    #[test]
    fn argon2id_round_trip_and_rejection() {
        let h = hash("Secr3t!pw", CHEAP).unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify("Secr3t!pw", &h));
        assert!(!verify("Secr3t!pW", &h));
        assert!(!verify("Secr3t!pw", "not a hash"));
        // Same password, different salt.
        assert_ne!(h, hash("Secr3t!pw", CHEAP).unwrap());
        // Other algorithms are refused even when the hash is valid for them.
        let argon2i = h.replacen("argon2id", "argon2i", 1);
        assert!(!verify("Secr3t!pw", &argon2i));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = NewPassword::parse("Secr3t!pw").unwrap();
        assert!(!format!("{p:?}").contains("Secr3t"));
    }

    proptest! {
        #[test]
        fn generated_passwords_meet_the_policy(_i in 0..200u32) {
            let p = NewPassword::generate();
            prop_assert!(NewPassword::parse(p.expose()).is_ok(), "{}", p.expose());
        }

        #[test]
        fn parse_never_panics_and_accepts_only_compliant(s in ".{0,24}") {
            if let Ok(p) = NewPassword::parse(&s) {
                let n = p.expose().chars().count();
                prop_assert!((MIN_LEN..=MAX_LEN).contains(&n));
                prop_assert!(s.chars().any(char::is_lowercase));
                prop_assert!(s.chars().any(char::is_uppercase));
                prop_assert!(s.chars().any(|c| c.is_ascii_digit()));
            }
        }
    }
}
