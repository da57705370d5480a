//! The trace page: one HTML page that draws a trace as a timeline, for the live tracer (`GET /`),
//! for a trace file (`inspect --html`, written whole into one file) and for `view FILE` (served
//! on the loopback address). Rows come from a trace file ([`of_trace`]) or from windows of the
//! live store ([`of_snapshot`]) in one shape ([`rows`]); [`html`] puts them into the page.

mod assets;
pub mod document;
pub mod html;
pub mod of_snapshot;
pub mod of_trace;
pub mod rows;

pub use document::WindowDocument;
pub use html::{file_page, live_page};

/// The page of a trace read from `file`, titled with the file's name.
pub fn trace_file_page(file: &std::path::Path, trace: &sk_core::Trace) -> anyhow::Result<String> {
    let (rows, start, end) = of_trace::rows_of_trace(trace)?;
    let title = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
    file_page(&title, rows, (start, end), &trace.gaps)
}
