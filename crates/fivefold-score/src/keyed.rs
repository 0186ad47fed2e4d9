//! [`Keyed`]: the scorer's map from enterprise USCC or point id to state.
//!
//! Every reading looks up its point and its enterprise, and every window
//! close walks all points and all enterprises, so the map must be fast both
//! ways: a lookup costs one hash (a `BTreeMap<String, _>` costs a dozen
//! string comparisons at 10,000 keys), and a walk goes in key order, so that
//! the rows the scorer emits, and its snapshots, never depend on a hash seed.
//! Keys are never removed: a shard's enterprises and points live as long as it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Values by string key: searched by hash, walked in key order.
#[derive(Clone)]
pub(crate) struct Keyed<V> {
    /// Key -> position in `keys` and `values`. Hashed by aHash: every reading
    /// hashes its point id here, and SipHash was a visible share of replay.
    index: HashMap<Box<str>, u32, ahash::RandomState>,
    keys: Vec<Box<str>>,
    values: Vec<V>,
    /// Positions in key order; covers every value once `sort` has run since
    /// the last insertion.
    order: Vec<u32>,
}

/// A remembered position in a [`Keyed`], kept beside a key that is looked up
/// again and again (a point's enterprise). Positions never change, since keys
/// are never removed, and a hint is checked against the key before use, so a
/// stale or foreign hint only costs the hash it was meant to save. A hint is
/// not state: it is never serialised, and all hints compare equal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hint(Option<u32>);

impl PartialEq for Hint {
    fn eq(&self, _: &Hint) -> bool {
        true
    }
}

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed { index: HashMap::default(), keys: Vec::new(), values: Vec::new(), order: Vec::new() }
    }
}

impl<V> Keyed<V> {
    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The value of `key`, made by `new` if the key is new (the only case
    /// in which the key is copied).
    pub(crate) fn get_or_insert_with(&mut self, key: &str, new: impl FnOnce() -> V) -> &mut V {
        let at = self.position_or_insert(key, new);
        &mut self.values[at]
    }

    /// [`Keyed::get_or_insert_with`] that first tries the position `hint`
    /// remembers, and remembers the one it finds: one string comparison
    /// instead of a hash when the same key comes back.
    pub(crate) fn get_or_insert_hinted(
        &mut self,
        key: &str,
        hint: &mut Hint,
        new: impl FnOnce() -> V,
    ) -> &mut V {
        let at = match hint.0 {
            Some(at) if self.keys.get(at as usize).is_some_and(|k| **k == *key) => at as usize,
            _ => {
                let at = self.position_or_insert(key, new);
                hint.0 = Some(at as u32);
                at
            }
        };
        &mut self.values[at]
    }

    fn position_or_insert(&mut self, key: &str, new: impl FnOnce() -> V) -> usize {
        match self.index.get(key) {
            Some(at) => *at as usize,
            None => {
                let at = self.values.len();
                self.index.insert(key.into(), at as u32);
                self.keys.push(key.into());
                self.values.push(new());
                at
            }
        }
    }

    /// Positions in key order: `order` when no insertion has outdated it.
    fn sorted(&self) -> Cow<'_, [u32]> {
        if self.order.len() == self.values.len() {
            return Cow::Borrowed(&self.order);
        }
        let mut o: Vec<u32> = (0..self.values.len() as u32).collect();
        o.sort_unstable_by(|a, b| self.keys[*a as usize].cmp(&self.keys[*b as usize]));
        Cow::Owned(o)
    }

    /// Brings `order` up to date after insertions.
    fn sort(&mut self) {
        if let Cow::Owned(o) = self.sorted() {
            self.order = o;
        }
    }

    /// Calls `f` on every key and value, in key order.
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&str, &mut V)) {
        self.sort();
        for &at in &self.order {
            f(&self.keys[at as usize], &mut self.values[at as usize]);
        }
    }

    /// Every value, in no particular order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.values.iter_mut()
    }

    /// Every key and value, in key order. Takes `&self`, so it sorts a copy
    /// of the order when insertions have outdated it (rare: at end of input).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        let order = self.sorted();
        (0..order.len()).map(move |i| {
            let at = order[i] as usize;
            (&*self.keys[at], &self.values[at])
        })
    }
}

impl<V: fmt::Debug> fmt::Debug for Keyed<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Serialised exactly as a `BTreeMap<String, V>`: a map in key order, so
/// snapshots written before this type existed restore unchanged.
impl<V: Serialize> Serialize for Keyed<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Keyed<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = std::collections::BTreeMap::<String, V>::deserialize(d)?;
        let mut out = Keyed::default();
        for (k, v) in entries {
            out.index.insert(k.as_str().into(), out.values.len() as u32);
            out.keys.push(k.into_boxed_str());
            out.values.push(v);
        }
        // Inserted in key order: the order is the insertion order.
        out.order = (0..out.values.len() as u32).collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn walks_in_key_order_and_serialises_like_a_btreemap() {
        let mut k: Keyed<i32> = Keyed::default();
        let mut b: BTreeMap<String, i32> = BTreeMap::new();
        for (i, key) in ["m", "b", "zz", "a", "b", "", "é", "Z"].iter().enumerate() {
            *k.get_or_insert_with(key, || 0) += i as i32;
            *b.entry(key.to_string()).or_default() += i as i32;
        }
        assert_eq!(k.len(), b.len());
        let walked: Vec<(String, i32)> = k.iter().map(|(a, v)| (a.to_owned(), *v)).collect();
        let want: Vec<(String, i32)> = b.iter().map(|(a, v)| (a.clone(), *v)).collect();
        assert_eq!(walked, want);
        let mut mutated = Vec::new();
        k.for_each_mut(|key, v| {
            *v *= 10;
            mutated.push(key.to_owned());
        });
        assert_eq!(mutated, b.keys().cloned().collect::<Vec<_>>());
        assert_eq!(*k.get_or_insert_with("zz", || 0), 20);

        let json = serde_json::to_string(&k).unwrap();
        let bjson =
            serde_json::to_string(&b.iter().map(|(a, v)| (a, v * 10)).collect::<BTreeMap<_, _>>())
                .unwrap();
        assert_eq!(json, bjson);
        let back: Keyed<i32> = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        // Insertions after a restore are walked in key order too.
        let mut back = back;
        back.get_or_insert_with("c", || 7);
        let keys: Vec<&str> = back.iter().map(|(a, _)| a).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert!(keys.contains(&"c"));
    }

    #[test]
    fn a_hint_is_checked_against_its_key_before_use() {
        let mut k: Keyed<i32> = Keyed::default();
        let mut hint = Hint::default();
        *k.get_or_insert_hinted("b", &mut hint, || 1) += 10;
        assert_eq!(hint.0, Some(0));
        // The remembered position serves the same key again.
        assert_eq!(*k.get_or_insert_hinted("b", &mut hint, || 99), 11);
        // Another key with the same hint is found (or inserted) by hash, and
        // the hint moves to it; "b" keeps its value.
        assert_eq!(*k.get_or_insert_hinted("a", &mut hint, || 2), 2);
        assert_eq!(hint.0, Some(1));
        let mut stale = Hint(Some(7));
        assert_eq!(*k.get_or_insert_hinted("b", &mut stale, || 99), 11);
        assert_eq!(stale.0, Some(0));
        assert_eq!(k.len(), 2);
    }
}
