//! A watch stream's body cut into its lines, one JSON event each. The body arrives in chunks that
//! need not end at a line's end; whole lines are handed out from each chunk where it lies, and only
//! a line cut between chunks is copied to be put together.

use bytes::{Buf, Bytes, BytesMut};

#[derive(Default)]
pub struct Lines {
    /// The start of a line whose end has not arrived.
    partial: BytesMut,
}

impl Lines {
    /// Every line that `chunk` completes, each without its newline; blank lines are skipped.
    pub fn push(&mut self, mut chunk: Bytes, mut each: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let Some(end) = memchr::memchr(b'\n', &chunk) else {
                self.partial.extend_from_slice(&chunk);
                return;
            };
            self.partial.extend_from_slice(&chunk[..end]);
            emit(&self.partial, &mut each);
            self.partial.clear();
            chunk.advance(end + 1);
        }
        let mut rest = &chunk[..];
        while let Some(end) = memchr::memchr(b'\n', rest) {
            emit(&rest[..end], &mut each);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// What is left when the stream ends: a last line without its newline.
    pub fn finish(&mut self, each: impl FnMut(&[u8])) {
        let rest = std::mem::take(&mut self.partial);
        emit(&rest, each);
    }
}

fn emit(line: &[u8], mut each: impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.iter().all(u8::is_ascii_whitespace) {
        each(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, at: &[usize]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        let mut from = 0;
        for &to in at.iter().chain(std::iter::once(&text.len())) {
            let chunk = Bytes::copy_from_slice(&text.as_bytes()[from..to]);
            lines.push(chunk, |l| out.push(String::from_utf8(l.to_vec()).unwrap()));
            from = to;
        }
        lines.finish(|l| out.push(String::from_utf8(l.to_vec()).unwrap()));
        out
    }

    #[test]
    fn lines_come_whole_wherever_the_chunks_break() {
        let text = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"d\"";
        let want = ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\""];
        assert_eq!(cut(text, &[]), want);
        for at in 0..text.len() {
            assert_eq!(cut(text, &[at]), want, "cut at {at}");
        }
        assert_eq!(cut(text, &[2, 3, 4, 9, 20]), want);
        assert!(cut("\n\n  \n", &[1]).is_empty());
    }
}
