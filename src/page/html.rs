//! The page as one HTML document: its style, the diff library, its script and its data inline,
//! so that it needs nothing else (no network, no other file).

use sk_core::trace::Gap;

use super::assets;
use super::document::WindowDocument;
use super::rows::Row;

/// JSON to put inside a `<script>` element: a `<` only occurs inside JSON strings, where
/// `\u003c` means the same and cannot close the element.
fn script_json(value: &impl serde::Serialize) -> anyhow::Result<String> {
    Ok(serde_json::to_string(value)?.replace('<', "\\u003c"))
}

/// Script text inside a `<script>` element, which only `</script` closes: where it occurs (in a
/// string or template), `<\/script` means the same. Other `</` are left alone: in a regular
/// expression such as `/</g` an escape would change its meaning.
fn script_text(js: &str) -> String {
    js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
}

fn html_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The template with each `{{NAME}}` replaced once, in one pass: text put in is never searched
/// for further names.
fn render(parts: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(assets::HTML.len() + parts.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = assets::HTML;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else { break };
        let name = &rest[open + 2..open + close];
        out.push_str(&rest[..open]);
        match parts.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

fn page(title: &str, data: &str, versions: &str) -> String {
    render(&[
        ("TITLE", &html_text(title)),
        ("STYLE", assets::CSS),
        ("DATA", data),
        ("VERSIONS", versions),
        ("JSONDIFFPATCH", &script_text(assets::JSONDIFFPATCH)),
        ("SCRIPT", &script_text(assets::SCRIPT)),
        ("LICENSES", &html_text(assets::LICENSES)),
    ])
}

/// The tracer's page: it asks `GET /api/window` for its rows.
pub fn live_page() -> String {
    let data = r#"{"mode":"live","title":"sk-tracer"}"#;
    page("sk-tracer", data, "[]")
}

/// A whole trace's page, its rows and every version in it. The versions are kept apart from the
/// rows, for the page to read only when a mark is first opened.
pub fn file_page(title: &str, mut rows: Vec<Row>, span: (i64, i64), gaps: &[Gap]) -> anyhow::Result<String> {
    let versions: Vec<_> = rows.iter_mut().map(|r| r.versions.take().unwrap_or_default()).collect();
    let doc = WindowDocument::page("file", title.to_string(), span, None, &rows, 0, usize::MAX).with_gaps(gaps);
    Ok(page(&format!("{title}: sk-tracer"), &script_json(&doc)?, &script_json(&versions)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_its_element_and_names_are_replaced_once() {
        let json = script_json(&serde_json::json!({"x": "</script><b>{{SCRIPT}}"})).unwrap();
        assert!(!json.contains('<'), "{json}");
        let page = page("a <b> & c", &json, "[]");
        assert!(page.contains("a &lt;b&gt; &amp; c"));
        assert!(page.contains(r#"\u003c/script>\u003cb>{{SCRIPT}}"#), "a name inside data is left alone");
        assert_eq!(page.matches("</script>").count(), 4, "data, versions, the library, the page's script");
        assert!(page.contains("Benjamín Eidelman"), "the licence is shipped");
    }

    #[test]
    fn a_file_page_holds_its_rows_and_versions_apart() {
        let trace = {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/traces/demo.json");
            sk_core::trace::v1::from_json(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()).unwrap()
        };
        let (rows, start, end) = super::super::of_trace::rows_of_trace(&trace).unwrap();
        let gaps = [Gap { kind: "apps/v1.Deployment".parse().unwrap(), from: start + 10, to: start + 20 }];
        let html = file_page("demo.json", rows, (start, end), &gaps).unwrap();
        let data_at = html.find(r#"id="sk-data""#).unwrap();
        let data = &html[html[data_at..].find('>').unwrap() + data_at + 1..];
        let data: serde_json::Value = serde_json::from_str(&data[..data.find("</script>").unwrap()]).unwrap();
        assert_eq!(data["mode"], "file");
        assert_eq!(data["gaps"], serde_json::json!([["apps/v1.Deployment", start + 10, start + 20]]));
        assert!(data["objects"].as_array().unwrap().iter().all(|o| o.get("versions").is_none()));
        assert!(html.contains("nginx:1.27"), "the versions are in the page");
        let only_link = r#"<link rel="icon" href="data:,">"#;
        assert!(
            !html.contains("<script src") && html.matches("<link").count() == 1 && html.contains(only_link),
            "nothing is fetched"
        );
    }
}
