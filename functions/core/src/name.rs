//! Domain names as Route 53 spells them, compared canonically.
//!
//! Route 53 returns every character outside `a-z`, `0-9`, `-` and `_` as a three-digit
//! *octal* escape (`\052` is `*`, `\100` is `@`), and it ignores case and the trailing
//! dot. Zone-file presentation format uses *decimal* escapes instead; this module only
//! speaks Route 53's dialect, because its input is the Route 53 API and its exports.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fully qualified domain name in canonical Route 53 form: lowercase, octal escapes for
/// every byte outside `[a-z0-9_-]`, one trailing dot. Two names are the same name exactly
/// when their canonical forms are equal, so `Eq`, `Ord` and `Hash` are plain string ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// Why a string is not a domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty or consists of dots only (the root is not a record name here).
    #[error("the name is empty")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("`{0}` has an empty label")]
    EmptyLabel(String),
    /// A label is longer than 63 octets (RFC 1035 2.3.4).
    #[error("`{0}` has a label longer than 63 octets")]
    LabelTooLong(String),
    /// The whole name is longer than 255 octets on the wire (RFC 1035 2.3.4).
    #[error("`{0}` is longer than 255 octets")]
    TooLong(String),
    /// A backslash not followed by three octal digits or by a character to take literally.
    #[error("`{0}` has a malformed escape")]
    BadEscape(String),
}

impl Name {
    /// Parses a name in Route 53's spelling (octal escapes, any case, with or without the
    /// trailing dot). `\ooo` is an octal escape; a backslash before any other character
    /// takes that character literally (so `a\.b` is one label).
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let labels = split_labels(input)?;
        if labels.is_empty() {
            return Err(NameError::Empty);
        }
        // Wire length: one length octet per label, the label, and the root's zero octet.
        let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        if wire_len > 255 {
            return Err(NameError::TooLong(input.to_owned()));
        }
        let mut canonical = String::with_capacity(input.len() + 1);
        for label in &labels {
            if label.len() > 63 {
                return Err(NameError::LabelTooLong(input.to_owned()));
            }
            for &byte in label {
                push_escaped(&mut canonical, byte.to_ascii_lowercase());
            }
            canonical.push('.');
        }
        Ok(Name(canonical))
    }

    /// A name from raw label octets (as they come off the wire), leftmost first.
    pub fn from_raw_labels<'a>(
        labels: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, NameError> {
        let mut escaped = String::new();
        for label in labels {
            for &byte in label {
                push_escaped(&mut escaped, byte);
            }
            escaped.push('.');
        }
        Name::parse(&escaped)
    }

    /// The canonical Route 53 spelling, with the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels, leftmost first, still in escaped form.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        // Literal dots inside a label are escaped (`\056`), so splitting is exact.
        self.0.trim_end_matches('.').split('.')
    }

    /// The number of labels (`example.com.` has two).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// True when `self` is `ancestor` or lies below it.
    pub fn is_at_or_below(&self, ancestor: &Name) -> bool {
        self == ancestor || self.0.ends_with(&format!(".{}", ancestor.0))
    }

    /// True when `self` lies strictly below `ancestor`.
    pub fn is_below(&self, ancestor: &Name) -> bool {
        self != ancestor && self.is_at_or_below(ancestor)
    }

    /// `label` prepended to this name (`label` in Route 53 spelling, e.g. `_zonehop`).
    pub fn prepend(&self, label: &str) -> Result<Name, NameError> {
        Name::parse(&format!("{label}.{}", self.0))
    }

    /// The name decoded to raw octets per label, for rendering into other formats.
    pub fn raw_labels(&self) -> Vec<Vec<u8>> {
        // A canonical name always re-parses.
        split_labels(&self.0).unwrap_or_default()
    }
}

fn push_escaped(out: &mut String, byte: u8) {
    match byte {
        b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => out.push(byte as char),
        other => out.push_str(&format!("\\{other:03o}")),
    }
}

/// Splits a name into raw labels, decoding escapes. A trailing dot is optional.
fn split_labels(input: &str) -> Result<Vec<Vec<u8>>, NameError> {
    let bytes = input.as_bytes();
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let rest = &bytes[i + 1..];
                if rest.len() >= 3 && rest[..3].iter().all(|b| (b'0'..=b'7').contains(b)) {
                    let value = rest[..3]
                        .iter()
                        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    let byte =
                        u8::try_from(value).map_err(|_| NameError::BadEscape(input.to_owned()))?;
                    label.push(byte);
                    i += 4;
                } else if let Some(&literal) = rest.first() {
                    if literal.is_ascii_digit() {
                        // A digit that does not start a full octal escape is ambiguous.
                        return Err(NameError::BadEscape(input.to_owned()));
                    }
                    label.push(literal);
                    i += 2;
                } else {
                    return Err(NameError::BadEscape(input.to_owned()));
                }
            }
            b'.' => {
                if label.is_empty() {
                    // Only a lone "." (the root) or a trailing dot may end without a label.
                    if i + 1 == bytes.len() && !labels.is_empty() {
                        break;
                    }
                    if bytes.len() == 1 {
                        return Err(NameError::Empty);
                    }
                    return Err(NameError::EmptyLabel(input.to_owned()));
                }
                labels.push(std::mem::take(&mut label));
                i += 1;
            }
            other => {
                label.push(other);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    Ok(labels)
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Name::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    #[test]
    fn case_and_trailing_dot_do_not_matter() {
        assert_eq!(name("WWW.Example.COM"), name("www.example.com."));
        assert_eq!(name("www.example.com").as_str(), "www.example.com.");
    }

    #[test]
    fn route53_octal_escape_for_wildcard_equals_the_literal_star() {
        // Route 53 returns `*.example.com` as `\052.example.com.`.
        assert_eq!(name("\\052.example.com."), name("*.example.com"));
        assert_eq!(name("*.example.com").as_str(), "\\052.example.com.");
    }

    #[test]
    fn every_character_outside_the_plain_set_is_octal_escaped() {
        assert_eq!(name("a@b.example.com").as_str(), "a\\100b.example.com.");
        assert_eq!(name("a b.example.com").as_str(), "a\\040b.example.com.");
        assert_eq!(name("_dmarc.ex-ample.com").as_str(), "_dmarc.ex-ample.com.");
        // An escaped dot stays inside its label.
        let dotted = name("a\\.b.example.com");
        assert_eq!(dotted.as_str(), "a\\056b.example.com.");
        assert_eq!(dotted.label_count(), 3);
    }

    #[test]
    fn uppercase_octal_escapes_fold_to_lowercase() {
        // \101 is `A`.
        assert_eq!(name("\\101.example.com"), name("a.example.com"));
    }

    #[test]
    fn malformed_names_get_named_errors() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("."), Err(NameError::Empty));
        assert!(matches!(Name::parse("a..b"), Err(NameError::EmptyLabel(_))));
        assert!(matches!(Name::parse(".a"), Err(NameError::EmptyLabel(_))));
        assert!(matches!(Name::parse("a\\"), Err(NameError::BadEscape(_))));
        assert!(matches!(Name::parse("a\\12"), Err(NameError::BadEscape(_))));
        assert!(matches!(
            Name::parse("\\777.com"),
            Err(NameError::BadEscape(_))
        ));
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(matches!(
            Name::parse(&long_label),
            Err(NameError::LabelTooLong(_))
        ));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(matches!(
            Name::parse(&long_name),
            Err(NameError::TooLong(_))
        ));
    }

    #[test]
    fn subtree_tests_respect_label_boundaries() {
        let dev = name("dev.example.com");
        assert!(name("a.dev.example.com").is_below(&dev));
        assert!(name("dev.example.com").is_at_or_below(&dev));
        assert!(!name("dev.example.com").is_below(&dev));
        assert!(!name("xdev.example.com").is_at_or_below(&dev));
    }

    #[test]
    fn raw_labels_round_trip() {
        let wild = name("*.Example.com");
        let labels = wild.raw_labels();
        let again = Name::from_raw_labels(labels.iter().map(Vec::as_slice)).expect("valid");
        assert_eq!(again, wild);
    }

    #[test]
    fn raw_labels_decode_escapes() {
        assert_eq!(
            name("\\052.example.com").raw_labels(),
            vec![b"*".to_vec(), b"example".to_vec(), b"com".to_vec()]
        );
    }
}
