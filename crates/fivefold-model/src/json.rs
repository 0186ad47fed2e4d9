//! One-pass scan of a flat JSON object into per-field raw values.
//!
//! The scan borrows from the input: keys and values are slices of the record
//! (a key is only copied when it contains escapes), and nested values are
//! kept as raw JSON. Known keys land in fixed slots; unknown keys are kept in
//! order for the `extra` column. Typed interpretation happens afterwards in
//! [`crate::decode`], once per field, against the table spec.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Most distinct keys a topic layout may know.
pub const MAX_SLOTS: usize = 32;

/// The known keys of a topic, in slot order.
#[derive(Debug, Clone)]
pub struct Layout {
    names: Vec<&'static str>,
}

impl Layout {
    /// A layout over the given names (duplicates are merged).
    ///
    /// # Panics
    /// When more than [`MAX_SLOTS`] distinct names are given: a programming
    /// error in the static table specs, caught by every test.
    pub fn new(names: impl IntoIterator<Item = &'static str>) -> Layout {
        let mut out: Vec<&'static str> = Vec::new();
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        assert!(out.len() <= MAX_SLOTS, "a topic layout knows at most {MAX_SLOTS} keys");
        Layout { names: out }
    }

    /// The name of a slot.
    pub fn name(&self, slot: usize) -> Option<&'static str> {
        self.names.get(slot).copied()
    }

    /// The slot of a key.
    pub fn slot(&self, key: &str) -> Option<usize> {
        let kb = key.as_bytes();
        self.names.iter().position(|n| n.len() == kb.len() && n.as_bytes() == kb)
    }
}

/// The fields of one scanned object.
#[derive(Debug)]
pub struct Scanned<'de> {
    /// Raw value per known slot (the last occurrence wins if a key repeats).
    pub slots: [Option<&'de RawValue>; MAX_SLOTS],
    /// Unknown keys with their raw values, in input order.
    pub extra: Vec<(Cow<'de, str>, &'de RawValue)>,
}

/// Why a record could not be scanned as an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// Not JSON at all (or not UTF-8), with serde_json's description.
    NotJson(String),
    /// Valid JSON, but not an object: names what it is.
    NotObject(&'static str),
}

/// Scans `raw` as one JSON object against `layout`.
pub fn scan<'de>(raw: &'de [u8], layout: &Layout) -> Result<Scanned<'de>, ScanError> {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Tell "valid JSON of another type" from "not JSON".
        return match serde_json::from_slice::<de::IgnoredAny>(raw) {
            Ok(_) => Err(ScanError::NotObject(match first {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                _ => "a number",
            })),
            Err(e) => Err(ScanError::NotJson(e.to_string())),
        };
    }
    let mut out = Scanned { slots: [None; MAX_SLOTS], extra: Vec::new() };
    let mut de = serde_json::Deserializer::from_slice(raw);
    ObjectSeed { layout, out: &mut out }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| ScanError::NotJson(e.to_string()))?;
    Ok(out)
}

struct ObjectSeed<'a, 'de> {
    layout: &'a Layout,
    out: &'a mut Scanned<'de>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            match self.layout.slot(&key) {
                Some(i) => self.out.slots[i] = Some(value),
                None => self.out.extra.push((key, value)),
            }
        }
        Ok(())
    }
}

/// A map key, borrowed unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A typed view of one raw JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'de> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, with its source text (to tell integers from fractions).
    Number(&'de str),
    /// A string, unescaped.
    Str(Cow<'de, str>),
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Value<'_> {
    /// The JSON type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array => "an array",
            Value::Object => "an object",
        }
    }
}

/// Interprets a raw value (already known to be valid JSON).
pub fn value(raw: &RawValue) -> Value<'_> {
    let s = raw.get();
    match s.as_bytes().first() {
        Some(b'"') => {
            let inner = &s[1..s.len() - 1];
            if inner.contains('\\') {
                match serde_json::from_str::<String>(s) {
                    Ok(v) => Value::Str(Cow::Owned(v)),
                    Err(_) => Value::Str(Cow::Borrowed(inner)),
                }
            } else {
                Value::Str(Cow::Borrowed(inner))
            }
        }
        Some(b't') => Value::Bool(true),
        Some(b'f') => Value::Bool(false),
        Some(b'n') => Value::Null,
        Some(b'[') => Value::Array,
        Some(b'{') => Value::Object,
        _ => Value::Number(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_known_and_unknown_keys() {
        let layout = Layout::new(["a", "b"]);
        let raw = br#" {"a": 1, "zz": {"x": [1,2]}, "b": "h\u00e9", "a\n": null} "#;
        let s = scan(raw, &layout).unwrap();
        assert_eq!(s.slots[0].map(RawValue::get), Some("1"));
        assert_eq!(value(s.slots[1].unwrap()), Value::Str(Cow::Owned("hé".into())));
        assert_eq!(s.extra.len(), 2);
        assert_eq!(s.extra[0].0, "zz");
        assert_eq!(s.extra[0].1.get(), r#"{"x": [1,2]}"#);
        assert_eq!(s.extra[1].0, "a\n");
    }

    #[test]
    fn tells_not_json_from_not_object() {
        let layout = Layout::new(["a"]);
        assert_eq!(scan(b"[1,2]", &layout).unwrap_err(), ScanError::NotObject("an array"));
        assert_eq!(scan(b" 42", &layout).unwrap_err(), ScanError::NotObject("a number"));
        assert!(matches!(scan(b"{\"a\":", &layout), Err(ScanError::NotJson(_))));
        assert!(matches!(scan(b"{\"a\":1} x", &layout), Err(ScanError::NotJson(_))));
        assert!(matches!(scan(b"", &layout), Err(ScanError::NotJson(_))));
        assert!(matches!(scan(b"{\"a\":\"\xff\"}", &layout), Err(ScanError::NotJson(_))));
    }
}
