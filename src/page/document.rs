//! What the page reads: the answer of `GET /api/window`, and the data a page written to a file
//! holds, in one shape.

use serde::Serialize;

use super::rows::Row;

/// The most rows `GET /api/window` answers with at once.
pub const MAX_PAGE_ROWS: usize = 5000;

/// A window's rows, or a page of them.
#[derive(Debug, Serialize)]
pub struct WindowDocument<'a> {
    /// `live` for the tracer's page, `file` for a trace file's.
    pub mode: &'static str,
    /// What the page is of: the tracer, or the file's name.
    pub title: String,
    /// Unix seconds: the window shown, `[start, end)`.
    pub start: i64,
    pub end: i64,
    /// The tracer's clock when it answered; `None` for a file.
    pub now: Option<i64>,
    /// Rows in the window (all pages).
    pub total: usize,
    pub offset: usize,
    /// The `offset` of the next page; `None` on the last.
    pub next_offset: Option<usize>,
    pub objects: &'a [Row],
    /// Where the trace missed a kind's changes: `[kind, from, to]`, unix seconds, inside the
    /// window. Every page of a window carries them.
    pub gaps: Vec<(String, i64, i64)>,
}

impl<'a> WindowDocument<'a> {
    /// The page of `rows` from `offset`, at most `limit` long.
    pub fn page(
        mode: &'static str,
        title: String,
        (start, end): (i64, i64),
        now: Option<i64>,
        rows: &'a [Row],
        offset: usize,
        limit: usize,
    ) -> Self {
        let offset = offset.min(rows.len());
        let stop = offset.saturating_add(limit).min(rows.len());
        WindowDocument {
            mode,
            title,
            start,
            end,
            now,
            total: rows.len(),
            offset,
            next_offset: (stop < rows.len()).then_some(stop),
            objects: &rows[offset..stop],
            gaps: Vec::new(),
        }
    }

    /// With the gaps of `[start, end)` among `gaps`.
    pub fn with_gaps(mut self, gaps: &[sk_core::trace::Gap]) -> Self {
        self.gaps = gaps
            .iter()
            .filter_map(|g| g.clip(self.start, self.end))
            .map(|g| (g.kind.to_string(), g.from, g.to))
            .collect();
        self
    }
}
