//! Hand-written JSON output: string escaping and a small ordered object builder.

use std::fmt::Write as _;

use fivefold_model::time::format_rfc3339_ms;

/// The offset every RFC 3339 timestamp is written with (China Standard Time).
pub(crate) const OFFSET_MINUTES: i32 = 8 * 60;

/// Appends `s` as a quoted JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON text of a string value.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_str(&mut out, s);
    out
}

/// The JSON text of a finite number with a fixed number of decimals.
pub(crate) fn number(v: f64, decimals: usize) -> String {
    debug_assert!(v.is_finite());
    let v = if v.is_finite() { v } else { 0.0 };
    format!("{v:.decimals$}")
}

/// The JSON text of a timestamp: an RFC 3339 string at +08:00, or integer epoch milliseconds.
pub(crate) fn timestamp(ms: i64, epoch: bool) -> String {
    if epoch {
        ms.to_string()
    } else {
        let mut out = String::with_capacity(31);
        out.push('"');
        out.push_str(&format_rfc3339_ms(ms, OFFSET_MINUTES));
        out.push('"');
        out
    }
}

/// A JSON object under construction: keys in insertion order, values as JSON text.
///
/// Keeping the values as text lets the bad-record generator replace or drop a
/// single field of an otherwise valid record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    items: Vec<(&'static str, String)>,
    /// Whether timestamps are written as epoch milliseconds.
    epoch: bool,
}

impl Fields {
    /// An empty object whose timestamps are RFC 3339 strings, or epoch ms when `epoch`.
    pub(crate) fn new(epoch: bool) -> Fields {
        Fields { items: Vec::with_capacity(16), epoch }
    }

    /// Adds a field whose value is already JSON text.
    pub(crate) fn raw(&mut self, key: &'static str, json: String) -> &mut Self {
        self.items.push((key, json));
        self
    }

    /// Adds a string field.
    pub(crate) fn str(&mut self, key: &'static str, v: &str) -> &mut Self {
        self.raw(key, quoted(v))
    }

    /// Adds an integer field.
    pub(crate) fn int(&mut self, key: &'static str, v: i64) -> &mut Self {
        self.raw(key, v.to_string())
    }

    /// Adds a number field with a fixed number of decimals.
    pub(crate) fn num(&mut self, key: &'static str, v: f64, decimals: usize) -> &mut Self {
        self.raw(key, number(v, decimals))
    }

    /// Adds a boolean field.
    pub(crate) fn bool(&mut self, key: &'static str, v: bool) -> &mut Self {
        self.raw(key, if v { "true" } else { "false" }.to_string())
    }

    /// Adds a null field.
    pub(crate) fn null(&mut self, key: &'static str) -> &mut Self {
        self.raw(key, "null".to_string())
    }

    /// Adds a timestamp field in this object's timestamp form.
    pub(crate) fn ts(&mut self, key: &'static str, ms: i64) -> &mut Self {
        let text = timestamp(ms, self.epoch);
        self.raw(key, text)
    }

    /// Replaces the value of `key`, or appends the field when it is absent.
    pub(crate) fn set(&mut self, key: &'static str, json: String) {
        match self.items.iter_mut().find(|(k, _)| *k == key) {
            Some(item) => item.1 = json,
            None => self.items.push((key, json)),
        }
    }

    /// Removes `key`; true when it was present.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|(k, _)| *k != key);
        self.items.len() != before
    }

    /// The object as compact JSON text.
    pub(crate) fn to_json(&self) -> String {
        let len: usize = self.items.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        let mut out = String::with_capacity(len + 2);
        out.push('{');
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(k);
            out.push_str("\":");
            out.push_str(v);
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        assert_eq!(quoted("plain"), r#""plain""#);
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("x\ny\r\tz"), r#""x\ny\r\tz""#);
        assert_eq!(quoted("\u{1}\u{8}\u{c}\u{1f}"), r#""\u0001\b\f\u001f""#);
        assert_eq!(quoted("苏州“化工”"), "\"苏州“化工”\"");
    }

    #[test]
    fn builds_objects() {
        let mut f = Fields::new(false);
        f.str("a", "x").int("b", -3).num("c", 1.0, 2).bool("d", true).null("e");
        f.ts("t", 1_772_324_100_123);
        assert_eq!(
            f.to_json(),
            r#"{"a":"x","b":-3,"c":1.00,"d":true,"e":null,"t":"2026-03-01T08:15:00.123+08:00"}"#
        );
        f.set("b", "4".into());
        assert!(f.remove("e"));
        assert!(!f.remove("e"));
        f.set("z", "[]".into());
        assert_eq!(
            f.to_json(),
            r#"{"a":"x","b":4,"c":1.00,"d":true,"t":"2026-03-01T08:15:00.123+08:00","z":[]}"#
        );
        let mut e = Fields::new(true);
        e.ts("t", 5);
        assert_eq!(e.to_json(), r#"{"t":5}"#);
    }
}
