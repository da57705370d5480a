//! An object's identity borrowed from wherever its kind and name are held (an [`ObjectIdentity`]
//! in the store, a [`TraceIdentity`] in a trace), with the comparisons an export sorts and
//! matches identities by.

use std::cmp::Ordering;

use super::{ObjectIdentity, TraceIdentity};
use crate::gvk::Gvk;

/// An object's identity, borrowed: its kind (if known) and its namespaced name in two parts.
/// The name is `namespace/name`, or `name` alone where the namespace is empty; a [`TraceIdentity`]'s
/// name is split at its first `/`, which changes nothing about the name it spells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdentityRef<'a> {
    pub gvk: Option<&'a Gvk>,
    pub namespace: &'a str,
    pub name: &'a str,
    /// [`IdentityRef::name_prefix`], found once: an export compares keys many times, and the prefix
    /// settles most comparisons without reading the names. Two halves rather than a `u128`, whose
    /// alignment would pad every key by 8 bytes.
    prefix: [u64; 2],
}

impl<'a> IdentityRef<'a> {
    pub fn new(gvk: Option<&'a Gvk>, namespace: &'a str, name: &'a str) -> Self {
        let mut key = IdentityRef { gvk, namespace, name, prefix: [0; 2] };
        let mut bytes = [0u8; 16];
        let mut at = 0;
        for piece in key.name_pieces() {
            let n = piece.len().min(16 - at);
            bytes[at..at + n].copy_from_slice(&piece.as_bytes()[..n]);
            at += n;
        }
        let prefix = u128::from_be_bytes(bytes);
        key.prefix = [(prefix >> 64) as u64, prefix as u64];
        key
    }

    pub fn of_identity(id: &'a ObjectIdentity) -> Self {
        IdentityRef::new(Some(&id.gvk), &id.namespace, &id.name)
    }

    pub fn of_trace(key: &'a TraceIdentity) -> Self {
        let (namespace, name) = match key.name.split_once('/') {
            Some((ns, name)) if !ns.is_empty() => (ns, name),
            _ => ("", key.name.as_str()),
        };
        IdentityRef::new(key.gvk.as_ref(), namespace, name)
    }

    /// The length of the namespaced name in bytes.
    pub fn name_len(&self) -> usize {
        if self.namespace.is_empty() {
            self.name.len()
        } else {
            self.namespace.len() + 1 + self.name.len()
        }
    }

    /// The first 16 bytes of the namespaced name, big-endian and padded with zeros: ordered as the
    /// names are wherever they differ (names hold no NUL), and equal only where the names are or
    /// one's first 16 bytes are the other's.
    pub fn name_prefix(&self) -> u128 {
        (u128::from(self.prefix[0]) << 64) | u128::from(self.prefix[1])
    }

    /// [`IdentityRef::cmp_trace`] against an owner whose name prefix is known: names of at most 16
    /// bytes with equal prefixes and lengths are equal without being read.
    pub fn cmp_owner(&self, other_prefix: u128, other: &TraceIdentity) -> Ordering {
        match names_by_prefix((self.name_prefix(), self.name_len()), (other_prefix, other.name.len())) {
            Some(names) => names.then_with(|| self.gvk.cmp(&other.gvk.as_ref())),
            None => self.cmp_trace(other),
        }
    }

    /// The namespaced name in at most three pieces, to write without building it.
    pub fn name_pieces(&self) -> [&'a str; 3] {
        if self.namespace.is_empty() {
            [self.name, "", ""]
        } else {
            [self.namespace, "/", self.name]
        }
    }

    pub fn namespaced_name(&self) -> String {
        self.name_pieces().concat()
    }

    pub fn to_trace_identity(self) -> TraceIdentity {
        TraceIdentity { gvk: self.gvk.cloned(), name: self.namespaced_name() }
    }

    /// Namespaced names in byte order, then kinds (an unknown kind first). Namespaces hold no
    /// `/`, so where both are set and differ, `namespace/` decides alone; only a prefix needs
    /// the byte after it.
    pub fn cmp_names(&self, other: &Self) -> Ordering {
        if let Some(names) =
            names_by_prefix((self.name_prefix(), self.name_len()), (other.name_prefix(), other.name_len()))
        {
            return names;
        }
        let (a, b) = (self.namespace.as_bytes(), other.namespace.as_bytes());
        if a == b {
            return self.name.cmp(other.name);
        }
        if a.is_empty() || b.is_empty() {
            let (x, y) = (self.name_pieces(), other.name_pieces());
            return x.iter().flat_map(|p| p.bytes()).cmp(y.iter().flat_map(|p| p.bytes()));
        }
        let common = a.len().min(b.len());
        match a[..common].cmp(&b[..common]) {
            Ordering::Equal => {
                let next = |ns: &[u8]| ns.get(common).copied().unwrap_or(b'/');
                next(a).cmp(&next(b))
            }
            unequal => unequal,
        }
    }

    /// The order of a view's index and lifecycles.
    pub fn cmp_key(&self, other: &Self) -> Ordering {
        self.cmp_names(other).then_with(|| self.gvk.cmp(&other.gvk))
    }

    /// [`IdentityRef::cmp_key`] against a [`TraceIdentity`], without splitting its name.
    pub fn cmp_trace(&self, other: &TraceIdentity) -> Ordering {
        let mut rest = other.name.as_bytes();
        for piece in self.name_pieces().map(str::as_bytes) {
            let n = piece.len().min(rest.len());
            match piece[..n].cmp(&rest[..n]) {
                Ordering::Equal if n < piece.len() => return Ordering::Greater,
                Ordering::Equal => rest = &rest[n..],
                unequal => return unequal,
            }
        }
        let names = if rest.is_empty() { Ordering::Equal } else { Ordering::Less };
        names.then_with(|| self.gvk.cmp(&other.gvk.as_ref()))
    }
}

/// The order of two names known by their prefix and length, where those settle it: prefixes
/// that differ, or equal ones of names of at most 16 bytes (padded with zeros, the shorter is the
/// start of the longer). `None` where the names must be read.
fn names_by_prefix(a: (u128, usize), b: (u128, usize)) -> Option<Ordering> {
    match a.0.cmp(&b.0) {
        Ordering::Equal if a.1.max(b.1) <= 16 => Some(a.1.cmp(&b.1)),
        Ordering::Equal => None,
        unequal => Some(unequal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(ns: &'a str, name: &'a str) -> IdentityRef<'a> {
        IdentityRef::new(None, ns, name)
    }

    #[test]
    fn keys_sort_as_their_namespaced_names_do() {
        let keys = [
            key("a", "x"),
            key("a-b", "x"),
            key("", "a"),
            key("", "a-c"),
            key("", "a/w"),
            key("ab", "a"),
            key("a", "y"),
            key("", "b"),
            key("b", ""),
            key("", "a0"),
            key("a0", "a"),
            // Names of 16 bytes and more, whose prefixes tie.
            key("namespace-long", "x"),
            key("namespace-long", "xy"),
            key("namespace-long", "xx"),
            key("", "namespace-long/x"),
            key("", "namespace-long/xy"),
            key("namespace-lon", "g/x"),
            key("namespace-longer", ""),
            key("namespace-longer", "a"),
            key("", "abcdefghijklmnop"),
            key("", "abcdefghijklmno"),
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp_names(b), a.namespaced_name().cmp(&b.namespaced_name()), "{a:?} {b:?}");
                let tracked = b.to_trace_identity();
                assert_eq!(a.cmp_trace(&tracked), a.cmp_key(&IdentityRef::of_trace(&tracked)), "{a:?} {b:?}");
                let prefix = IdentityRef::of_trace(&tracked).name_prefix();
                assert_eq!(a.cmp_owner(prefix, &tracked), a.cmp_trace(&tracked), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn tracked_keys_split_into_the_same_name() {
        for name in ["ns/a", "a", "a/b/c", "/a", ""] {
            let t = TraceIdentity { gvk: None, name: name.into() };
            assert_eq!(IdentityRef::of_trace(&t).namespaced_name(), name);
            assert_eq!(IdentityRef::of_trace(&t).name_len(), name.len());
        }
    }
}
