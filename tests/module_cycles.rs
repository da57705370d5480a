//! No import circles: within each crate of the workspace, no module uses a sibling that uses it
//! back, directly or around a longer loop. A module's own submodules and its ancestors do not
//! count (a child may use its parent's items); test modules and comments are left out.
//!
//! Modules are files (`a/mod.rs` and `a.rs` are `a`); a use of `crate::a::b::Item`, `super::x`
//! or `self::y` is an edge from the using module to the longest module path it names. Two
//! modules in different subtrees are compared where their paths part: `trace::v1` using
//! `store::x` is the edge `trace -> store`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 6] = ["core/src", "src", "config/src", "plugins/src", "exporters/src", "skel/src"];

type Module = Vec<String>;

struct Source {
    module: Module,
    text: String,
    file: PathBuf,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text that builds the crate: inline test modules (which sit at the end of a file) and
/// comments left out.
fn code(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|l| l.trim_start()).unwrap_or_default();
            let module = ["mod ", "pub(crate) mod ", "pub mod "].iter().any(|m| next.starts_with(m));
            // An inline test module runs to the end of the file; `mod x;` only declares one.
            if module && !next.trim_end().ends_with(';') {
                break;
            }
        }
        if !trimmed.starts_with("//") {
            kept.push(line);
        }
    }
    kept.join("\n")
}

fn sources(root: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .filter_map(|file| {
            let relative = file.strip_prefix(root).ok()?.with_extension("");
            let mut module: Module = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                module.pop();
            }
            let text = code(&std::fs::read_to_string(&file).ok()?);
            Some(Source { module, text, file })
        })
        .collect()
}

/// Every path starting with `crate`, `super` or `self`, with the items of a grouped `use`
/// (`use super::{a, b::c}`) each made a path of its own.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let starts = ["crate::", "super::", "self::"].iter().find(|p| bytes[i..].starts_with(p.as_bytes()));
        let at_boundary = i == 0 || !is_ident(bytes[i - 1]);
        let Some(_) = starts.filter(|_| at_boundary) else {
            i += 1;
            continue;
        };
        let mut end = i;
        let separator = |at: usize| bytes[at..].starts_with(b"::");
        while end < bytes.len() && (is_ident(bytes[end]) || separator(end)) {
            end += if separator(end) { 2 } else { 1 };
        }
        let path = text[i..end].trim_end_matches("::").to_string();
        if text[i..end].ends_with("::") && bytes.get(end) == Some(&b'{') {
            if let Some(close) = text[end..].find('}') {
                for item in text[end + 1..end + close].split(',') {
                    let first: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !first.is_empty() && first != "self" {
                        found.push(format!("{path}::{first}"));
                    }
                }
            }
        }
        found.push(path);
        i = end.max(i + 1);
    }
    found
}

/// The module a path names, as the longest prefix that is a module of the crate. In a file of
/// module `m` (`m.rs` or `m/mod.rs` alike), `self` is `m` and `super` is its parent.
fn resolve(from: &Source, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut parts = path.split("::").peekable();
    let mut base: Module = match parts.next()? {
        "crate" => Vec::new(),
        "self" => from.module.clone(),
        "super" => from.module[..from.module.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    while parts.peek() == Some(&"super") {
        base.pop();
        parts.next();
    }
    let rest: Vec<&str> = parts.collect();
    (0..=rest.len()).rev().find_map(|n| {
        let mut candidate = base.clone();
        candidate.extend(rest[..n].iter().map(|p| p.to_string()));
        modules.contains(&candidate).then_some(candidate)
    })
}

/// The cycles of `graph`, each as the modules around it.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        found: &mut Vec<Vec<Module>>,
    ) {
        if let Some(at) = stack.iter().position(|m| m == node) {
            found.push(stack[at..].to_vec());
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
        done.insert(node.clone());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "(crate root)".into()
    } else {
        module.join("::")
    }
}

#[test]
fn no_crate_has_an_import_circle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for krate in CRATES {
        let root = workspace.join(krate);
        let sources = sources(&root);
        assert!(!sources.is_empty(), "{krate}: no sources found");
        let modules: BTreeSet<Module> = sources.iter().map(|s| s.module.clone()).collect();
        let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        let mut why: BTreeMap<(Module, Module), String> = BTreeMap::new();
        for source in &sources {
            for path in references(&source.text) {
                let Some(target) = resolve(source, &path, &modules) else { continue };
                let shared = source.module.iter().zip(&target).take_while(|(a, b)| a == b).count();
                // Its own submodules and its ancestors are not siblings.
                if shared == source.module.len() || shared == target.len() {
                    continue;
                }
                let (from, to) = (source.module[..=shared].to_vec(), target[..=shared].to_vec());
                let file = source.file.strip_prefix(workspace).unwrap_or(&source.file).display().to_string();
                why.entry((from.clone(), to.clone())).or_insert(format!("{file} uses {path}"));
                graph.entry(from).or_default().insert(to);
            }
        }
        for cycle in cycles(&graph) {
            let mut steps = Vec::new();
            for (i, m) in cycle.iter().enumerate() {
                let next = &cycle[(i + 1) % cycle.len()];
                let evidence = why.get(&(m.clone(), next.clone())).cloned().unwrap_or_default();
                steps.push(format!("{} -> {} ({evidence})", name(m), name(next)));
            }
            problems.push(format!("{krate}: {}", steps.join("; ")));
        }
    }
    assert!(problems.is_empty(), "import circles:\n{}", problems.join("\n"));
}

#[test]
fn the_check_sees_a_circle_and_a_grouped_use() {
    let refs = references("use super::{a, b::c};\nfn f() { crate::x::y(); }");
    assert!(refs.contains(&"super::a".to_string()) && refs.contains(&"super::b".to_string()), "{refs:?}");
    assert!(refs.contains(&"crate::x::y".to_string()), "{refs:?}");
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Module>();
    let graph = BTreeMap::from([(m("a"), BTreeSet::from([m("b")])), (m("b"), BTreeSet::from([m("a")]))]);
    assert_eq!(cycles(&graph).len(), 1);
    let text =
        "use crate::a;\n#[cfg(test)]\nmod helper;\nuse crate::c;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\n";
    assert_eq!(references(&code(text)), ["crate::a", "crate::c"]);
}
