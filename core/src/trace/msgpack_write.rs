//! The msgpack that both trace formats write alike: events, names, one owner's lifecycles, gaps,
//! and integers and container lengths in rmp's smallest forms. Each format's module writes the rest
//! of its layout around these.

use std::io::Write;

use rmp::encode as mp;

use super::chunks::TraceSink;
use super::gaps::Gap;
use super::view::{EventView, IdentityRef, LifecyclesRef};
use super::PodLifecycle;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("writing the trace: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding the trace config: {0}")]
    Config(#[from] rmp_serde::encode::Error),
}

impl From<mp::ValueWriteError> for EncodeError {
    fn from(e: mp::ValueWriteError) -> Self {
        match e {
            mp::ValueWriteError::InvalidMarkerWrite(e) | mp::ValueWriteError::InvalidDataWrite(e) => EncodeError::Io(e),
        }
    }
}

#[inline]
pub(super) fn len32(n: usize) -> Result<u32, EncodeError> {
    u32::try_from(n)
        .map_err(|_| EncodeError::Io(std::io::Error::other("more than 2^32 entries in one msgpack container")))
}

pub(super) fn write_event(w: &mut impl TraceSink, ev: &EventView<'_>) -> Result<(), EncodeError> {
    mp::write_map_len(w, 3)?;
    mp::write_str(w, "ts")?;
    mp::write_sint(w, ev.ts)?;
    mp::write_str(w, "applied_objs")?;
    mp::write_array_len(w, len32(ev.applied.len())?)?;
    for obj in &ev.applied {
        w.write_object(obj)?;
    }
    mp::write_str(w, "deleted_objs")?;
    mp::write_array_len(w, len32(ev.deleted.len())?)?;
    for deleted in &ev.deleted {
        w.write_object(&deleted.to_record())?;
    }
    Ok(())
}

/// An integer as `rmp::encode::write_sint` writes it (the smallest form), with the form of
/// timestamps of this century first.
#[inline]
pub(super) fn push_int(out: &mut Vec<u8>, n: i64) {
    if (1 << 16..1 << 32).contains(&n) {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        // Writing into a Vec cannot fail.
        let _ = mp::write_sint(out, n);
    }
}

/// An unsigned integer as `rmp::encode::write_uint` writes it (the smallest form), with the form
/// of pod hashes (full 64-bit) first.
#[inline]
fn push_uint(out: &mut Vec<u8>, n: u64) {
    if n > u64::from(u32::MAX) {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        // Writing into a Vec cannot fail.
        let _ = mp::write_uint(out, n);
    }
}

pub(super) fn write_name(w: &mut impl Write, key: &IdentityRef<'_>) -> Result<(), EncodeError> {
    mp::write_str_len(w, len32(key.name_len())?)?;
    for piece in key.name_pieces() {
        w.write_all(piece.as_bytes())?;
    }
    Ok(())
}

/// Writes one owner's lifecycles into `out`, in any format: `write_key` writes the owner's map key
/// and `push` one lifecycle; the lengths in between are msgpack's, filled in once known. False,
/// with nothing written, where clipping left the owner none and it keeps none empty.
pub(super) fn write_owner_with(
    out: &mut Vec<u8>,
    write_key: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
    lcs: LifecyclesRef<'_>,
    keeps_empty: bool,
    push: impl Fn(&mut Vec<u8>, &PodLifecycle),
) -> Result<bool, EncodeError> {
    let owner_start = out.len();
    write_key(out)?;
    let map_at = out.len();
    out.push(0);
    let mut written = 0;
    let mut result = Ok(());
    lcs.for_each(|hash, launches| {
        let hash_start = out.len();
        push_uint(out, hash);
        let array_at = out.len();
        out.push(0);
        let n = launches.map(|lc| push(out, &lc)).count();
        if n > 0 || keeps_empty {
            written += 1;
            if result.is_ok() {
                result = fill_len(out, array_at, n, Container::Array);
            }
        } else {
            out.truncate(hash_start);
        }
    });
    result?;
    if written == 0 && !keeps_empty {
        out.truncate(owner_start);
        return Ok(false);
    }
    fill_len(out, map_at, written, Container::Map)?;
    Ok(true)
}

enum Container {
    Map,
    Array,
}

/// Fills in a container's length at `at`, where one byte was left for it, as rmp writes it: in
/// the smallest form, moving what follows it where that takes more than the byte.
fn fill_len(out: &mut Vec<u8>, at: usize, n: usize, kind: Container) -> Result<(), EncodeError> {
    let n = len32(n)?;
    let mut header = [0u8; 5];
    let mut rest = &mut header[..];
    match kind {
        Container::Map => mp::write_map_len(&mut rest, n)?,
        Container::Array => mp::write_array_len(&mut rest, n)?,
    };
    match 5 - rest.len() {
        1 => out[at] = header[0],
        used => drop(out.splice(at..=at, header[..used].iter().copied())),
    }
    Ok(())
}

/// Writes the gaps as a msgpack array of `{kind, from, to}` maps.
pub(super) fn write_gaps(w: &mut impl Write, gaps: &[Gap]) -> Result<(), EncodeError> {
    mp::write_array_len(w, len32(gaps.len())?)?;
    for g in gaps {
        mp::write_map_len(w, 3)?;
        mp::write_str(w, "kind")?;
        mp::write_str(w, &g.kind.to_string())?;
        mp::write_str(w, "from")?;
        mp::write_sint(w, g.from)?;
        mp::write_str(w, "to")?;
        mp::write_sint(w, g.to)?;
    }
    Ok(())
}
