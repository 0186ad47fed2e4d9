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
    /// Open-addressing index over `names`: slot number + 1 at the bucket of
    /// its hash, 0 for empty. Every key of every record is looked up here, so
    /// a lookup costs one short hash and, nearly always, one comparison.
    buckets: [u8; BUCKETS],
}

/// Buckets of [`Layout`]'s index: a power of two, at least twice [`MAX_SLOTS`].
const BUCKETS: usize = 4 * MAX_SLOTS;

/// The bucket a key starts probing at: its length and three of its bytes.
fn bucket(key: &[u8]) -> usize {
    let (Some(&first), Some(&last)) = (key.first(), key.last()) else { return 0 };
    let mid = key[key.len() / 2];
    let h = (key.len() as u32)
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(u32::from(first).wrapping_mul(0x85EB_CA77))
        .wrapping_add(u32::from(mid).wrapping_mul(0xC2B2_AE3D))
        .wrapping_add(u32::from(last).wrapping_mul(0x27D4_EB2F));
    (h >> 16) as usize % BUCKETS
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
        let mut buckets = [0u8; BUCKETS];
        for (slot, name) in out.iter().enumerate() {
            let mut i = bucket(name.as_bytes());
            while buckets[i] != 0 {
                i = (i + 1) % BUCKETS;
            }
            buckets[i] = slot as u8 + 1;
        }
        Layout { names: out, buckets }
    }

    /// The name of a slot.
    pub fn name(&self, slot: usize) -> Option<&'static str> {
        self.names.get(slot).copied()
    }

    /// The slot of a key.
    pub fn slot(&self, key: &str) -> Option<usize> {
        let kb = key.as_bytes();
        let mut i = bucket(kb);
        loop {
            let slot = usize::from(self.buckets[i]).checked_sub(1)?;
            if same_key(self.names[slot].as_bytes(), kb) {
                return Some(slot);
            }
            i = (i + 1) % BUCKETS;
        }
    }
}

/// The slots of the keys of the last record scanned, by position: producers
/// write every record of a kind with its keys in the same order, so the k-th
/// key of a record is nearly always the k-th of the one before. A guess is
/// checked by one comparison, which is cheaper than [`Layout::slot`]'s hash;
/// a wrong guess costs that comparison and falls back to the lookup.
#[derive(Debug, Clone)]
pub struct KeyOrder {
    /// Slot + 1 of the key at each position, 0 for unknown.
    guesses: [u8; MAX_SLOTS],
}

impl KeyOrder {
    /// No guesses yet.
    pub fn new() -> Self {
        KeyOrder { guesses: [0; MAX_SLOTS] }
    }

    /// The slot of `key`, found at position `k` of its record.
    fn slot(&mut self, k: usize, key: &str, layout: &Layout) -> Option<usize> {
        let guess = self.guesses.get(k).and_then(|&g| usize::from(g).checked_sub(1));
        if let Some(slot) = guess
            && same_key(layout.names[slot].as_bytes(), key.as_bytes())
        {
            return Some(slot);
        }
        let found = layout.slot(key);
        if let Some(g) = self.guesses.get_mut(k) {
            *g = found.map_or(0, |slot| slot as u8 + 1);
        }
        found
    }
}

impl Default for KeyOrder {
    fn default() -> Self {
        KeyOrder::new()
    }
}

/// `a == b` for short keys without a call to `memcmp`: field names are
/// mostly 4 to 16 bytes, where two overlapping 8-byte loads settle it.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    match n {
        0..8 => a.iter().zip(b).all(|(x, y)| x == y),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// The fields of one scanned object. Values are raw JSON text, already
/// checked to be valid JSON.
#[derive(Debug)]
pub struct Scanned<'de> {
    /// Raw value per known slot (the last occurrence wins if a key repeats);
    /// only the slots `present` marks hold this scan's values.
    slots: [Option<&'de str>; MAX_SLOTS],
    /// Bit `i` is set when slot `i` was filled: clearing is one store instead
    /// of rewriting every slot, and a table asks for all the slots it does
    /// not use at once (see [`Scanned::any_of`]).
    present: u32,
    /// Unknown keys with their raw values, in input order.
    pub extra: Vec<(Cow<'de, str>, &'de str)>,
    /// Whether a string value may hold escapes. The flat path proves none
    /// does, so [`Scanned::value`] need not search each string again.
    pub escapes: bool,
}

/// Why a record could not be scanned as an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// Not JSON at all (or not UTF-8), with serde_json's description.
    NotJson(String),
    /// Valid JSON, but not an object: names what it is.
    NotObject(&'static str),
}

impl Scanned<'_> {
    /// Nothing scanned yet.
    pub fn new() -> Self {
        Scanned { slots: [None; MAX_SLOTS], present: 0, extra: Vec::new(), escapes: false }
    }

    fn clear(&mut self) {
        self.present = 0;
        self.extra.clear();
        self.escapes = false;
    }
}

impl<'de> Scanned<'de> {
    /// The typed value of a slot: `None` when the key was absent.
    ///
    /// Inlined into the field checks: returned through memory, the value's
    /// middle word is written in byte-sized pieces (the layout `Value::Bool`
    /// leaves) and read back whole, a store-forwarding stall on every field
    /// of every record.
    #[inline(always)]
    pub fn value(&self, slot: usize) -> Option<Value<'de>> {
        let raw = self.raw(slot)?;
        Some(if self.escapes { value(raw) } else { plain_value(raw) })
    }

    /// The raw JSON text of a slot: `None` when the key was absent.
    #[inline]
    pub fn raw(&self, slot: usize) -> Option<&'de str> {
        if slot < MAX_SLOTS && self.present & (1 << slot) != 0 { self.slots[slot] } else { None }
    }

    /// Whether any slot of `mask` (bit `i` for slot `i`) was filled.
    #[inline]
    pub fn any_of(&self, mask: u32) -> bool {
        self.present & mask != 0
    }

    fn fill(&mut self, slot: usize, raw: &'de str) {
        self.slots[slot] = Some(raw);
        self.present |= 1 << slot;
    }
}

/// Equal when they hold the same values: slots outside `present` do not count.
impl PartialEq for Scanned<'_> {
    fn eq(&self, other: &Self) -> bool {
        (0..MAX_SLOTS).all(|slot| self.raw(slot) == other.raw(slot))
            && self.extra == other.extra
            && self.escapes == other.escapes
    }
}

impl Default for Scanned<'_> {
    fn default() -> Self {
        Scanned::new()
    }
}

/// Scans `raw` as one JSON object against `layout` into `out`, which is
/// cleared first: the decoder keeps one on its stack frame instead of moving
/// half a kilobyte of slots per record. `order` is the same for every record
/// of a topic: it learns where their keys sit (see [`KeyOrder`]).
pub fn scan<'de>(
    raw: &'de [u8],
    layout: &Layout,
    order: &mut KeyOrder,
    out: &mut Scanned<'de>,
) -> Result<(), ScanError> {
    out.clear();
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
    if scan_flat(raw, layout, order, out).is_some() {
        return Ok(());
    }
    out.clear();
    out.escapes = true;
    scan_serde(raw, layout, out)
}

/// The general path of [`scan`]: serde_json, for every valid object and
/// for the error text of an invalid one.
fn scan_serde<'de>(
    raw: &'de [u8],
    layout: &Layout,
    out: &mut Scanned<'de>,
) -> Result<(), ScanError> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    ObjectSeed { layout, out }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| ScanError::NotJson(e.to_string()))
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
                Some(i) => self.out.fill(i, value.get()),
                None => self.out.extra.push((key, value.get())),
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

/// The fast path of [`scan`]: one pass over a flat object whose strings hold
/// no escapes and whose values are strings, numbers, booleans or null - what
/// producers send almost always. Anything else (escapes, nested values,
/// control characters, invalid UTF-8 or JSON) returns `None`, and serde_json
/// scans the record instead, so results and error texts are the same either way.
fn scan_flat<'de>(
    raw: &'de [u8],
    layout: &Layout,
    order: &mut KeyOrder,
    out: &mut Scanned<'de>,
) -> Option<()> {
    let text = std::str::from_utf8(raw).ok()?;
    let b = text.as_bytes();
    let ws = |mut i: usize| {
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    // A string without escapes starting at `i` (a quote): the index after it.
    let string = |i: usize| -> Option<usize> {
        let j = string_stop(b, i + 1)?;
        (b[j] == b'"').then_some(j + 1)
    };
    let digits = |mut j: usize| {
        let start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        (j > start).then_some(j)
    };
    // A number per the JSON grammar starting at `i`: the index after it.
    let number = |i: usize| -> Option<usize> {
        let mut j = i + usize::from(b.get(i) == Some(&b'-'));
        j = if b.get(j) == Some(&b'0') { j + 1 } else { digits(j)? };
        if b.get(j) == Some(&b'.') {
            j = digits(j + 1)?;
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            j += 1;
            j += usize::from(matches!(b.get(j), Some(b'+' | b'-')));
            j = digits(j)?;
        }
        Some(j)
    };
    let literal = |i: usize, word: &[u8]| b[i..].starts_with(word).then_some(i + word.len());
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(i + 1);
    if b.get(i) == Some(&b'}') {
        return (ws(i + 1) == b.len()).then_some(());
    }
    // The position of the key in the record, for `order`.
    let mut k = 0;
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string(i)?;
        let key = &text[i + 1..key_end - 1];
        i = ws(key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = ws(i + 1);
        let end = match *b.get(start)? {
            b'"' => string(start)?,
            b't' => literal(start, b"true")?,
            b'f' => literal(start, b"false")?,
            b'n' => literal(start, b"null")?,
            b'-' | b'0'..=b'9' => number(start)?,
            _ => return None,
        };
        let value = &text[start..end];
        match order.slot(k, key, layout) {
            Some(slot) => out.fill(slot, value),
            None => out.extra.push((Cow::Borrowed(key), value)),
        }
        i = ws(end);
        match b.get(i) {
            Some(b',') => {
                i = ws(i + 1);
                k += 1;
            }
            Some(b'}') => return (ws(i + 1) == b.len()).then_some(()),
            _ => return None,
        }
    }
}

/// The first byte at or after `from` that ends a string without escapes
/// or rules it out: a quote, a backslash or a control character. Strings are
/// most of a record's bytes, so they are searched eight bytes at a time.
fn string_stop(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Flags the bytes of `x` that are zero (`below(x, 1)`) or below `n`
    // (n <= 128). Borrows can flag bytes above the first true one, never
    // below it, so the lowest flag is exact.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let mut j = from;
    while let Some(chunk) = b.get(j..j + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let hits = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if hits != 0 {
            return Some(j + (hits.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    b.get(j..)?.iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f)).map(|k| j + k)
}

/// Interprets a raw value (already known to be valid JSON).
pub fn value(s: &str) -> Value<'_> {
    match s.strip_prefix('"') {
        Some(quoted) if quoted.contains('\\') => match serde_json::from_str::<String>(s) {
            Ok(v) => Value::Str(Cow::Owned(v)),
            Err(_) => Value::Str(Cow::Borrowed(&quoted[..quoted.len() - 1])),
        },
        _ => plain_value(s),
    }
}

/// [`value`] of a raw value whose strings are known to hold no escapes.
#[inline(always)]
fn plain_value(s: &str) -> Value<'_> {
    match s.as_bytes().first() {
        Some(b'"') => Value::Str(Cow::Borrowed(&s[1..s.len() - 1])),
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

    fn scanned<'de>(raw: &'de [u8], layout: &Layout) -> Result<Scanned<'de>, ScanError> {
        let mut out = Scanned::new();
        scan(raw, layout, &mut KeyOrder::new(), &mut out).map(|()| out)
    }

    fn flat_path<'de>(raw: &'de [u8], layout: &Layout) -> Option<Scanned<'de>> {
        let mut out = Scanned::new();
        scan_flat(raw, layout, &mut KeyOrder::new(), &mut out).map(|()| out)
    }

    fn serde<'de>(raw: &'de [u8], layout: &Layout) -> Result<Scanned<'de>, ScanError> {
        let mut out = Scanned::new();
        scan_serde(raw, layout, &mut out).map(|()| out)
    }

    #[test]
    fn the_layout_index_finds_every_known_key_and_no_other() {
        for topic in crate::spec::Topic::ALL {
            let names: Vec<&'static str> = topic
                .tables()
                .iter()
                .flat_map(|t| t.fields().unwrap_or_default().iter().map(|f| f.name))
                .collect();
            let layout = Layout::new(names.iter().copied());
            for (slot, name) in layout.names.iter().enumerate() {
                assert_eq!(layout.slot(name), Some(slot), "{topic:?} {name}");
                let longer = format!("{name}_");
                assert_eq!(layout.slot(&longer), None, "{topic:?} {longer}");
                assert_eq!(layout.slot(&name[1..]), None, "{topic:?} {name}");
            }
            assert_eq!(layout.slot(""), None);
        }
        // A full layout: every bucket chain ends, whatever collides.
        let many: Vec<&'static str> = (0..MAX_SLOTS)
            .map(|i| &*Box::leak(format!("k{}", i % 3).repeat(i + 1).into_boxed_str()))
            .collect();
        let layout = Layout::new(many.iter().copied());
        for (slot, name) in many.iter().enumerate() {
            assert_eq!(layout.slot(name), Some(slot));
        }
        assert_eq!(layout.slot("nothing"), None);
    }

    #[test]
    fn string_stop_finds_the_first_quote_backslash_or_control_byte() {
        let naive = |b: &[u8], from: usize| {
            b[from..].iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f)).map(|k| from + k)
        };
        let fillers: [&[u8]; 4] = [b"a", "é".as_bytes(), b"\x7f", "统".as_bytes()];
        for stop in [b'"', b'\\', 0u8, b'\n', 0x1f, 0x20, b'!', b'#', b'[', b']', 0x80, 0xff] {
            for filler in fillers {
                for len in 0..40 {
                    let mut text: Vec<u8> = filler.repeat(len);
                    text.push(stop);
                    text.extend_from_slice(b"\"tail");
                    for from in 0..text.len().min(12) {
                        assert_eq!(
                            string_stop(&text, from),
                            naive(&text, from),
                            "{text:?} from {from}"
                        );
                    }
                }
            }
        }
        assert_eq!(string_stop(b"abc", 0), None);
        assert_eq!(string_stop(b"", 0), None);
        assert_eq!(string_stop(b"ab", 5), None);
    }

    #[test]
    fn same_key_is_equality() {
        let words =
            ["", "a", "ab", "abcdefg", "abcdefgh", "abcdefgi", "bbcdefgh", "abcdefghijklmnop"];
        let longer =
            ["abcdefghijklmnoq", "xbcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopr"];
        for a in words.iter().chain(&longer) {
            for b in words.iter().chain(&longer) {
                assert_eq!(same_key(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn scans_known_and_unknown_keys() {
        let layout = Layout::new(["a", "b"]);
        let raw = br#" {"a": 1, "zz": {"x": [1,2]}, "b": "h\u00e9", "a\n": null} "#;
        let s = scanned(raw, &layout).unwrap();
        assert_eq!(s.raw(0), Some("1"));
        assert_eq!(value(s.raw(1).unwrap()), Value::Str(Cow::Owned("hé".into())));
        assert_eq!(s.extra.len(), 2);
        assert_eq!(s.extra[0].0, "zz");
        assert_eq!(s.extra[0].1, r#"{"x": [1,2]}"#);
        assert_eq!(s.extra[1].0, "a\n");
    }

    #[test]
    fn the_flat_path_agrees_with_serde_json_or_steps_aside() {
        let layout = Layout::new(["a", "b", "c"]);
        let flat = [
            r#"{"a":1,"b":"x","c":true}"#,
            " {\"a\" : -0.5e+3 ,\r\n\t\"zz\":null, \"b\":\"h\u{e9}llo\"} ",
            r#"{}"#,
            r#"{"a":1,"a":2,"q":false}"#,
            r#"{"a":0,"b":-12,"c":1.25E-2}"#,
        ];
        for text in flat {
            let fast = flat_path(text.as_bytes(), &layout);
            assert!(fast.is_some(), "{text} takes the flat path");
            assert_eq!(fast, serde(text.as_bytes(), &layout).ok(), "{text}");
        }
        // Escapes, nesting, and everything invalid go to serde_json.
        let aside: [&[u8]; 14] = [
            br#"{"a":"x\"y"}"#,
            br#"{"a\n":1}"#,
            br#"{"a":[1]}"#,
            br#"{"a":{"b":1}}"#,
            br#"{"a":01}"#,
            br#"{"a":1.}"#,
            br#"{"a":-}"#,
            br#"{"a":1e}"#,
            br#"{"a":tru}"#,
            br#"{"a":1,}"#,
            br#"{"a":1} x"#,
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":1}\x0c",
        ];
        for raw in aside {
            assert_eq!(flat_path(raw, &layout), None, "{}", String::from_utf8_lossy(raw));
        }
        assert!(scanned(br#"{"a":01}"#, &layout).is_err());
        let escaped = scanned(br#"{"a":"x\"y","b":"z"}"#, &layout).unwrap();
        assert_eq!(escaped.raw(0), Some(r#""x\"y""#));
        assert_eq!(escaped.value(0), Some(Value::Str(Cow::Borrowed("x\"y"))));
        assert_eq!(escaped.value(1), Some(Value::Str(Cow::Borrowed("z"))));
        assert_eq!(escaped.value(2), None);
        let plain = scanned(br#"{"a":"x","b":null}"#, &layout).unwrap();
        assert!(!plain.escapes);
        assert_eq!(plain.value(0), Some(Value::Str(Cow::Borrowed("x"))));
        assert_eq!(plain.value(1), Some(Value::Null));
    }

    #[test]
    fn key_order_guesses_never_change_what_a_key_maps_to() {
        let layout = Layout::new(["a", "bb", "ccc"]);
        let mut order = KeyOrder::new();
        let records = [
            r#"{"a":1,"bb":2,"ccc":3}"#,
            r#"{"a":1,"bb":2,"ccc":3}"#,
            r#"{"ccc":3,"a":1,"zz":0,"bb":2}"#,
            r#"{"zz":0,"a":1}"#,
            r#"{"a":1,"bb":2,"ccc":3}"#,
        ];
        for text in records {
            let mut guessed = Scanned::new();
            scan(text.as_bytes(), &layout, &mut order, &mut guessed).unwrap();
            assert_eq!(Some(guessed), scanned(text.as_bytes(), &layout).ok(), "{text}");
        }
    }

    #[test]
    fn tells_not_json_from_not_object() {
        let layout = Layout::new(["a"]);
        assert_eq!(scanned(b"[1,2]", &layout).unwrap_err(), ScanError::NotObject("an array"));
        assert_eq!(scanned(b" 42", &layout).unwrap_err(), ScanError::NotObject("a number"));
        assert!(matches!(scanned(b"{\"a\":", &layout), Err(ScanError::NotJson(_))));
        assert!(matches!(scanned(b"{\"a\":1} x", &layout), Err(ScanError::NotJson(_))));
        assert!(matches!(scanned(b"", &layout), Err(ScanError::NotJson(_))));
        assert!(matches!(scanned(b"{\"a\":\"\xff\"}", &layout), Err(ScanError::NotJson(_))));
    }
}
