//! An encoded trace as a list of byte chunks. Objects the store holds are shared into it, not
//! copied: an export costs little memory beyond what the store already holds, and a destination
//! writes the chunks as they are (a file, an upload's parts, a response body).

use std::io::{self, Write};

use bytes::{Bytes, BytesMut};

use super::EncodedObject;

/// Objects at least this large are shared rather than copied: below it, a chunk of its own costs
/// more than copying the bytes into the framing around it.
const SHARE_FROM: usize = 512;

/// Framing is written into buffers of this size, each split off as a chunk of its own when an
/// object is shared.
const FRAMING_BUFFER: usize = 64 * 1024;

/// Where an encoder writes: its framing through [`Write`], objects whole, and buffers it built
/// whole.
pub trait TraceSink: Write {
    fn write_object(&mut self, obj: &EncodedObject) -> io::Result<()> {
        self.write_all(obj.as_bytes())
    }

    fn write_buffer(&mut self, buf: Vec<u8>) -> io::Result<()> {
        self.write_all(&buf)
    }
}

impl TraceSink for Vec<u8> {}

/// A trace encoded in chunks, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceChunks {
    chunks: Vec<Bytes>,
    len: usize,
}

impl TraceChunks {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }

    /// The trace in one buffer: a copy, unless it is one chunk already.
    pub fn into_bytes(self) -> Bytes {
        match <[Bytes; 1]>::try_from(self.chunks) {
            Ok([one]) => one,
            Err(chunks) => {
                let mut all = BytesMut::with_capacity(self.len);
                for c in &chunks {
                    all.extend_from_slice(c);
                }
                all.freeze()
            }
        }
    }
}

/// A [`TraceSink`] building [`TraceChunks`].
#[derive(Default)]
pub struct ChunkWriter {
    done: Vec<Bytes>,
    framing: BytesMut,
    len: usize,
}

impl ChunkWriter {
    pub fn new() -> Self {
        ChunkWriter::default()
    }

    /// A writer whose list of chunks has room for `objects` shared objects and the framing
    /// between them, so that it is not regrown on the way.
    pub fn for_objects(objects: usize) -> Self {
        ChunkWriter { done: Vec::with_capacity(2 * objects + 2), ..ChunkWriter::default() }
    }

    fn end_framing(&mut self) {
        if !self.framing.is_empty() {
            self.done.push(self.framing.split().freeze());
        }
    }

    pub fn finish(mut self) -> TraceChunks {
        self.end_framing();
        TraceChunks { chunks: self.done, len: self.len }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.framing.capacity() - self.framing.len() < buf.len() {
            self.end_framing();
            self.framing.reserve(FRAMING_BUFFER.max(buf.len()));
        }
        self.framing.extend_from_slice(buf);
        self.len += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TraceSink for ChunkWriter {
    fn write_object(&mut self, obj: &EncodedObject) -> io::Result<()> {
        if obj.as_bytes().len() < SHARE_FROM {
            return self.write_all(obj.as_bytes());
        }
        self.end_framing();
        self.len += obj.as_bytes().len();
        self.done.push(obj.shared());
        Ok(())
    }

    fn write_buffer(&mut self, buf: Vec<u8>) -> io::Result<()> {
        if !buf.is_empty() {
            self.end_framing();
            self.len += buf.len();
            self.done.push(Bytes::from(buf));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_objects_are_shared_and_the_rest_copied_in_order() {
        let big = EncodedObject::from_json(&serde_json::json!({"kind": "Big", "data": "x".repeat(2000)}));
        let small = EncodedObject::from_json(&serde_json::json!({"kind": "Small"}));
        let mut w = ChunkWriter::new();
        w.write_all(b"head").unwrap();
        w.write_object(&small).unwrap();
        w.write_object(&big).unwrap();
        w.write_object(&big).unwrap();
        w.write_all(b"tail").unwrap();
        let chunks = w.finish();

        let mut flat = b"head".to_vec();
        flat.extend_from_slice(small.as_bytes());
        flat.extend_from_slice(big.as_bytes());
        flat.extend_from_slice(big.as_bytes());
        flat.extend_from_slice(b"tail");
        assert_eq!(chunks.len(), flat.len());
        assert_eq!(chunks.chunks().len(), 4);
        assert_eq!(chunks.chunks()[1].as_ptr(), big.as_bytes().as_ptr(), "shared, not copied");
        assert_eq!(chunks.clone().into_bytes(), flat);
    }

    #[test]
    fn framing_larger_than_a_buffer_is_kept_whole() {
        let mut w = ChunkWriter::new();
        let long = vec![7u8; FRAMING_BUFFER * 2 + 3];
        w.write_all(b"a").unwrap();
        w.write_all(&long).unwrap();
        w.write_all(b"b").unwrap();
        let chunks = w.finish();
        assert_eq!(chunks.len(), long.len() + 2);
        let flat = chunks.into_bytes();
        assert_eq!((flat[0], flat[1], flat[flat.len() - 1]), (b'a', 7, b'b'));
    }

    #[test]
    fn one_chunk_is_returned_without_a_copy() {
        let mut w = ChunkWriter::new();
        w.write_all(b"abc").unwrap();
        let chunks = w.finish();
        let ptr = chunks.chunks()[0].as_ptr();
        assert_eq!(chunks.into_bytes().as_ptr(), ptr);
        assert!(ChunkWriter::new().finish().is_empty());
    }

    #[test]
    fn a_built_buffer_becomes_a_chunk_of_its_own() {
        let mut w = ChunkWriter::new();
        w.write_all(b"head").unwrap();
        let buf = b"built".to_vec();
        let ptr = buf.as_ptr();
        w.write_buffer(buf).unwrap();
        w.write_buffer(Vec::new()).unwrap();
        w.write_all(b"tail").unwrap();
        let chunks = w.finish();
        assert_eq!(chunks.chunks().len(), 3);
        assert_eq!(chunks.chunks()[1].as_ptr(), ptr, "moved, not copied");
        assert_eq!(chunks.into_bytes(), &b"headbuilttail"[..]);
    }
}
