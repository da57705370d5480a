//! Response bodies sent chunk by chunk. warp takes a body whole, so an export leaves its chunks
//! in the response's extensions and the connection's service sends them as they are: the
//! objects they share with the store are written to the socket without being joined into one
//! buffer the size of the trace first.

use bytes::Bytes;
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
            let frames = chunks.into_iter().map(|chunk| Ok::<_, BoxError>(Frame::data(chunk)));
            StreamBody::new(futures::stream::iter(frames)).boxed()
        }
        None => body.map_err(|e| Box::new(e) as BoxError).boxed(),
    };
    hyper::Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

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
