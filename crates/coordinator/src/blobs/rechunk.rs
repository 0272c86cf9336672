//! Re-chunking a byte stream for the wire: object stores hand out pieces of any size (8 KiB
//! from a local file, whatever the network gave from S3); a reader gets pieces of exactly
//! `max` bytes but the last, so a message is never over `max` and never needlessly small.

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt};

/// `inner` in pieces of `max` bytes (the last one shorter); an error ends the stream.
pub fn rechunk<E: Send + 'static>(
    inner: BoxStream<'static, Result<Bytes, E>>,
    max: usize,
) -> BoxStream<'static, Result<Bytes, E>> {
    assert!(max > 0, "a chunk holds at least one byte");
    let state = (Some(inner), BytesMut::new());
    futures::stream::unfold(state, move |(mut inner, mut buffer)| async move {
        loop {
            if buffer.len() >= max {
                let piece = buffer.split_to(max).freeze();
                return Some((Ok(piece), (inner, buffer)));
            }
            let Some(source) = inner.as_mut() else {
                return (!buffer.is_empty()).then(|| (Ok(buffer.split().freeze()), (None, buffer)));
            };
            match source.next().await {
                Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                Some(Err(e)) => return Some((Err(e), (None, BytesMut::new()))),
                None => inner = None,
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pieces_are_full_but_the_last_and_errors_end_the_stream() {
        let parts = [&b"abc"[..], b"", b"defgh", b"i"].map(|p| Ok(Bytes::copy_from_slice(p)));
        let out: Vec<Result<Bytes, ()>> = rechunk(futures::stream::iter(parts).boxed(), 4)
            .collect()
            .await;
        let out: Vec<_> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out, [&b"abcd"[..], b"efgh", b"i"]);

        let failing = [Ok(Bytes::from_static(b"ab")), Err("cut"), Ok(Bytes::new())];
        let out: Vec<_> = rechunk(futures::stream::iter(failing).boxed(), 4)
            .collect()
            .await;
        assert_eq!(out, [Err("cut")], "bytes before an error are not passed on");
    }
}
