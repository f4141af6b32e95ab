//! JSON text read strictly: the same key twice in one object, or a byte-order mark before
//! the text, is refused by name. serde_json keeps the last of two equal keys silently, so
//! `{"dryRun": true, "dryRun": false}` would run for real; a person who wrote the first
//! meant something, and which one wins is not theirs to guess.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a text is not strict JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrictJsonError {
    /// The text starts with U+FEFF.
    #[error("it starts with a byte-order mark (U+FEFF): save it as UTF-8 without a BOM")]
    ByteOrderMark,
    /// One object holds the same key twice.
    #[error("the key `{key}` is given twice in one object (line {line} column {column}): JSON keeps only one of them; give it once")]
    DuplicateKey {
        key: String,
        line: usize,
        column: usize,
    },
    /// Not JSON at all.
    #[error("it is not JSON ({what} at line {line} column {column})")]
    Syntax {
        what: &'static str,
        line: usize,
        column: usize,
    },
}

/// Parses `text` as JSON, refusing a byte-order mark and duplicate keys.
pub fn parse_strict(text: &str) -> Result<Value, StrictJsonError> {
    if text.starts_with('\u{feff}') {
        return Err(StrictJsonError::ByteOrderMark);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = StrictValue
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| {
            let message = e.to_string();
            match message
                .strip_prefix(DUPLICATE)
                .and_then(|rest| rest.split_once(DUPLICATE_END))
            {
                Some((key, _)) => StrictJsonError::DuplicateKey {
                    key: key.to_owned(),
                    line: e.line(),
                    column: e.column(),
                },
                None => StrictJsonError::Syntax {
                    what: match e.classify() {
                        serde_json::error::Category::Eof => "it ends early",
                        _ => "a syntax error",
                    },
                    line: e.line(),
                    column: e.column(),
                },
            }
        })?;
    Ok(value)
}

const DUPLICATE: &str = "zonehop-duplicate-key<";
const DUPLICATE_END: &str = ">";

/// Builds a `serde_json::Value`, failing on the second occurrence of a key.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "{DUPLICATE}{key}{DUPLICATE_END}"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_by_name_at_any_depth() {
        let error = parse_strict(r#"{"dryRun": true, "dryRun": false}"#).expect_err("twice");
        assert!(
            matches!(&error, StrictJsonError::DuplicateKey { key, .. } if key == "dryRun"),
            "{error:?}"
        );
        assert!(error.to_string().contains("`dryRun` is given twice"));
        let nested = r#"{"nsTtl": {"during": 300, "during": 60, "after": 1}}"#;
        assert!(matches!(
            parse_strict(nested),
            Err(StrictJsonError::DuplicateKey { .. })
        ));
        let in_list = r#"[{"Name": "a.", "Name": "b."}]"#;
        assert!(parse_strict(in_list).is_err());
    }

    #[test]
    fn a_byte_order_mark_is_named_and_plain_json_reads_as_serde_json_does() {
        assert_eq!(
            parse_strict("\u{feff}{}"),
            Err(StrictJsonError::ByteOrderMark)
        );
        let text = r#"{"a": [1, -2, 2.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let strict = parse_strict(text).expect("JSON");
        let plain: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(strict, plain);
        for bad in ["", "{", "{} {}", "nope"] {
            assert!(
                matches!(parse_strict(bad), Err(StrictJsonError::Syntax { .. })),
                "{bad:?}"
            );
        }
    }
}
