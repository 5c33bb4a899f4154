//! The name rule for clusters, protection groups and recovery plans.
//!
//! Spec (clusters.md, "Register"; protection.md, "Name rules as for clusters"):
//! Hangul, English letters, digits, and only `-` `_` `#` `.` as special characters.
//! The spec gives no length; we allow 1 to 64 characters, like the platform's display
//! names. The platform code has no validated type for this rule, so it lives here.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty or longer than [`ResourceName::MAX_CHARS`].
    #[error("a name must be 1 to {max} characters long (got {got})", max = ResourceName::MAX_CHARS)]
    Length {
        /// The number of characters given.
        got: usize,
    },
    /// A character outside the allowed set.
    #[error(
        "a name may contain only Hangul, English letters, digits and the special characters - _ # . (found {found:?})"
    )]
    Character {
        /// The first character that is not allowed.
        found: char,
    },
}

/// A validated name of a cluster, protection group or recovery plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceName(String);

/// Hangul syllables, Jamo and compatibility Jamo.
fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '#' | '.') || is_hangul(c)
}

impl ResourceName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Validates a name against the cluster name rule.
    pub fn parse(s: &str) -> Result<ResourceName, NameError> {
        let n = s.chars().count();
        if !(1..=Self::MAX_CHARS).contains(&n) {
            return Err(NameError::Length { got: n });
        }
        if let Some(found) = s.chars().find(|c| !allowed(*c)) {
            return Err(NameError::Character { found });
        }
        Ok(ResourceName(s.to_owned()))
    }

    /// A derived name `<self><suffix>`, shortened so that it stays valid. Characters
    /// of `suffix` outside the rule are replaced by `-`.
    pub fn with_suffix(&self, suffix: &str) -> ResourceName {
        let suffix: String = suffix
            .chars()
            .map(|c| if allowed(c) { c } else { '-' })
            .take(Self::MAX_CHARS - 1)
            .collect();
        let keep = Self::MAX_CHARS - suffix.chars().count();
        let mut s: String = self.0.chars().take(keep).collect();
        s.push_str(&suffix);
        ResourceName(s)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_spec_alphabet() {
        for ok in [
            "web",
            "재해복구-1",
            "a.b_c#d-e",
            "Z9",
            "ㄱ",
            &"x".repeat(64),
        ] {
            assert!(ResourceName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(ResourceName::parse(""), Err(NameError::Length { got: 0 }));
        assert_eq!(
            ResourceName::parse(&"x".repeat(65)),
            Err(NameError::Length { got: 65 })
        );
        for (bad, c) in [
            ("a b", ' '),
            ("a/b", '/'),
            ("é", 'é'),
            ("日本", '日'),
            ("a\n", '\n'),
        ] {
            assert_eq!(
                ResourceName::parse(bad),
                Err(NameError::Character { found: c }),
                "{bad:?}"
            );
        }
        let msg = ResourceName::parse("a b").unwrap_err().to_string();
        assert!(msg.contains("- _ # ."), "{msg}");
    }

    #[test]
    fn suffix_keeps_names_valid() {
        let long = ResourceName::parse(&"n".repeat(64)).unwrap();
        let s = long.with_suffix("-split 1");
        assert_eq!(s.as_str().chars().count(), 64);
        assert!(s.as_str().ends_with("-split-1"));
        assert!(ResourceName::parse(s.as_str()).is_ok());
    }

    proptest! {
        #[test]
        fn parse_is_total_and_consistent(s in ".{0,80}") {
            if let Ok(n) = ResourceName::parse(&s) {
                prop_assert_eq!(n.as_str(), s.as_str());
                prop_assert!(ResourceName::parse(n.with_suffix(&s).as_str()).is_ok());
            }
        }

        #[test]
        fn valid_alphabet_round_trips(s in "[a-zA-Z0-9_#.\\-가-힣]{1,64}") {
            prop_assert!(ResourceName::parse(&s).is_ok());
        }
    }
}
