//! The page's files, embedded in the binary: nothing is fetched when the page is served or
//! opened, and the page written by `inspect --html` works offline.

pub const HTML: &str = include_str!("assets/page.html");
pub const CSS: &str = include_str!("assets/page.css");
pub const SCRIPT: &str = include_str!("assets/page.js");
/// The JSON diff the detail panel shows a version's changes with.
pub const JSONDIFFPATCH: &str = include_str!("assets/vendor/jsondiffpatch-0.5.0.umd.slim.js");
/// Shipped with the code it covers: every page carries it.
pub const LICENSES: &str = include_str!("assets/vendor/jsondiffpatch-LICENSE.txt");
