//! Validated names: user ids, e-mail addresses, group names.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {reason}")]
pub struct NameError {
    /// Which kind of name.
    pub what: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn err(what: &'static str, reason: impl Into<String>) -> NameError {
    NameError {
        what,
        reason: reason.into(),
    }
}

/// A user id (login name): 2–32 characters `a-z 0-9 . _ -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    /// Validates a user id.
    pub fn parse(s: &str) -> Result<UserId, NameError> {
        const W: &str = "user id";
        let n = s.chars().count();
        if !(2..=32).contains(&n) {
            return Err(err(W, "must be 2 to 32 characters long"));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(err(W, "must start with a lower-case letter a-z"));
        }
        if let Some(c) = s.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(err(
                W,
                format!("may contain only a-z, 0-9, '.', '_' and '-' (found {c:?})"),
            ));
        }
        Ok(UserId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address (syntax checked loosely: one `@`, a dotted domain, no spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates an address; stored lower-cased so that uniqueness ignores case.
    pub fn parse(s: &str) -> Result<Email, NameError> {
        const W: &str = "e-mail address";
        if s.len() > 254 {
            return Err(err(W, "must be at most 254 characters long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(W, "must not contain spaces or control characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(err(W, "must contain '@'"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(err(W, "must have exactly one '@' with a name before it"));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(err(W, "must have a domain such as example.com after '@'"));
        }
        Ok(Email(s.to_lowercase()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name (user's full name, group name): 1–64 characters, no control
/// characters, no leading or trailing spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Validates a display name; `what` names the field in the error.
    pub fn parse(what: &'static str, s: &str) -> Result<DisplayName, NameError> {
        let n = s.chars().count();
        if !(1..=64).contains(&n) {
            return Err(err(what, "must be 1 to 64 characters long"));
        }
        if s.trim() != s {
            return Err(err(what, "must not start or end with spaces"));
        }
        if s.chars().any(char::is_control) {
            return Err(err(what, "must not contain control characters"));
        }
        Ok(DisplayName(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_ids() {
        for ok in ["admin", "bob", "a1", "jane.doe-2_x"] {
            assert!(UserId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Bob",
            "1bob",
            "bob smith",
            "bob@x",
            &"a".repeat(33),
            "ünï",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Bob@Example.COM").unwrap().as_str(),
            "bob@example.com"
        );
        for bad in [
            "",
            "bob",
            "@x.com",
            "bob@",
            "bob@x",
            "a@b@c.com",
            "bo b@x.com",
            "bob@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names() {
        assert!(DisplayName::parse("group name", "Ops team 1").is_ok());
        for bad in ["", " x", "x ", "a\nb", &"x".repeat(65)] {
            assert!(DisplayName::parse("group name", bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".*") {
            let _ = UserId::parse(&s);
            let _ = Email::parse(&s);
            let _ = DisplayName::parse("x", &s);
        }

        #[test]
        fn valid_user_ids_round_trip(s in "[a-z][a-z0-9._-]{1,31}") {
            let id = UserId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }
    }
}
