//! Response bodies sent chunk by chunk. warp takes a body whole, so an export leaves its chunks
//! in the response's extensions and the connection's service sends them: the objects they share
//! with the store reach the socket without being joined into one buffer the size of the trace.
//!
//! A trace's chunks are mostly single objects of a few hundred bytes to a few KB. Handed to hyper
//! one frame each, they cost a pass through its dispatcher and a share of a `writev` apiece,
//! which made sending a 5 MB trace four times as long as encoding it; so small chunks are
//! gathered into frames of [`FRAME`] bytes, one bounded buffer at a time.

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use warp::reply::Response;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a response, in chunks, in order.
#[derive(Clone)]
pub struct ChunkedBody(pub Vec<Bytes>);

/// The response with its chunks as its body, if it carries them; otherwise as warp made it.
pub fn streamed(response: Response) -> hyper::Response<BoxBody<Bytes, BoxError>> {
    let (mut parts, body) = response.into_parts();
    let body = match parts.extensions.remove::<ChunkedBody>() {
        Some(ChunkedBody(chunks)) => {
            let frames = Gathered::new(chunks).map(|frame| Ok::<_, BoxError>(Frame::data(frame)));
            StreamBody::new(futures::stream::iter(frames)).boxed()
        }
        None => body.map_err(|e| Box::new(e) as BoxError).boxed(),
    };
    hyper::Response::from_parts(parts, body)
}

/// A response body's frames are gathered up to this size: large enough that the per-frame cost
/// is lost in the copy, small enough to stay in cache.
const FRAME: usize = 256 * 1024;

/// Chunks in order, as frames of at most [`FRAME`] bytes gathered from consecutive small
/// chunks; a chunk of that size or more passed on as it is.
struct Gathered {
    chunks: std::vec::IntoIter<Bytes>,
    /// The chunk that did not fit the frame before, first in the next.
    held: Option<Bytes>,
    /// Bytes not yet handed out, so that a small body gets a buffer its size.
    left: usize,
}

impl Gathered {
    fn new(chunks: Vec<Bytes>) -> Self {
        let left = chunks.iter().map(Bytes::len).sum();
        Gathered { chunks: chunks.into_iter(), held: None, left }
    }
}

impl Iterator for Gathered {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let mut frame = BytesMut::new();
        while let Some(chunk) = self.held.take().or_else(|| self.chunks.next()) {
            if chunk.len() >= FRAME && frame.is_empty() {
                self.left -= chunk.len();
                return Some(chunk);
            }
            if frame.len() + chunk.len() > FRAME {
                self.held = Some(chunk);
                break;
            }
            if frame.is_empty() {
                frame.reserve(FRAME.min(self.left));
            }
            frame.extend_from_slice(&chunk);
        }
        self.left -= frame.len();
        (!frame.is_empty()).then(|| frame.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathered(sizes: &[usize]) -> Vec<Vec<u8>> {
        // Each chunk filled with its own index, so order and boundaries show in the output.
        let chunks = sizes.iter().enumerate().map(|(i, &n)| Bytes::from(vec![i as u8; n])).collect();
        Gathered::new(chunks).map(|b| b.to_vec()).collect()
    }

    fn concat(sizes: &[usize]) -> Vec<u8> {
        sizes.iter().enumerate().flat_map(|(i, &n)| std::iter::repeat_n(i as u8, n)).collect()
    }

    #[test]
    fn small_chunks_are_gathered_into_frames_of_bounded_size() {
        let sizes = vec![1000; 600];
        let frames = gathered(&sizes);
        assert_eq!(frames.concat(), concat(&sizes));
        // 600 kB of 1 kB chunks: two frames of as many as fit in FRAME, and the rest.
        let lens: Vec<usize> = frames.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![262_000, 262_000, 76_000]);
    }

    #[test]
    fn a_large_chunk_passes_whole_and_keeps_its_place() {
        let sizes = [10, 20, FRAME, 0, 5, FRAME + 1, FRAME + 2, 7];
        let frames = gathered(&sizes);
        assert_eq!(frames.concat(), concat(&sizes));
        let lens: Vec<usize> = frames.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![30, FRAME, 5, FRAME + 1, FRAME + 2, 7]);
    }

    #[test]
    fn no_chunks_or_only_empty_ones_make_no_frame() {
        assert!(gathered(&[]).is_empty());
        assert!(gathered(&[0, 0]).is_empty());
    }

    #[tokio::test]
    async fn chunks_in_the_extensions_become_the_body() {
        let mut with = Response::new(Bytes::new().into());
        with.extensions_mut().insert(ChunkedBody(vec![
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from_static(b"c"),
        ]));
        let body = streamed(with).into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "abc");

        let without = Response::new(Bytes::from_static(b"whole").into());
        let body = streamed(without).into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "whole");
    }
}
