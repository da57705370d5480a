//! The core's modules import each other in one direction: no file reaches, through its imports and
//! theirs, a file that imports it back. A circle makes two files one unit that can be read,
//! changed and tested only together.
//!
//! The graph is read from the source text: `mod` declarations say which file holds which module;
//! an edge runs from a file to the file that defines what one of its paths (`use crate::...`,
//! `use super::...`, or such a path in code) names. A parent that declares or re-exports a child
//! does not depend on it (a re-export is followed to where the item is defined), unless its own
//! code uses what it re-exports. Code under `#[cfg(test)]` is left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

#[test]
fn core_modules_import_each_other_in_one_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(|file| std::fs::read_to_string(src.join(file)).ok());
    // The reader sees the crate and its imports, not an empty shell of them.
    assert!(graph.len() > 40, "only {} files found under {}", graph.len(), src.display());
    assert!(graph["trace/decode.rs"].contains("trace/v1.rs"), "{graph:#?}");
    assert!(graph["tracer/ingest.rs"].contains("tracer/ingest/fast.rs"), "{graph:#?}");
    let circles = circles(&graph);
    assert!(circles.is_empty(), "import circles among core's modules:\n{}", circles.join("\n"));
}

/// Files (relative to `src/`) and, for each, the files it imports from.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn import_graph(read: impl Fn(&str) -> Option<String>) -> Graph {
    let modules = load_modules(&read);
    let mut graph = Graph::new();
    for (id, module) in modules.iter().enumerate() {
        let edges = graph.entry(module.file.clone()).or_default();
        let mut add = |target: Target| {
            if let Some(file) = target.file(&modules) {
                if file != module.file {
                    edges.insert(file);
                }
            }
        };
        for (name, path) in &module.bindings {
            if name == "_" || module.idents.contains(name) {
                add(resolve(&modules, id, path, &mut BTreeSet::new()));
            }
        }
        for path in &module.globs {
            if let Target::Module(m) = resolve(&modules, id, path, &mut BTreeSet::new()) {
                if module.idents.iter().any(|name| !module.names(name) && modules[m].names(name)) {
                    add(Target::Module(m));
                }
            }
        }
        for path in &module.code_paths {
            add(resolve(&modules, id, path, &mut BTreeSet::new()));
        }
    }
    graph
}

/// One circle for each group of files that reach each other, as `a.rs -> b.rs -> a.rs`.
fn circles(graph: &Graph) -> Vec<String> {
    let reach: BTreeMap<&String, BTreeSet<&String>> = graph
        .keys()
        .map(|from| {
            let mut seen = BTreeSet::new();
            let mut queue = VecDeque::from([from]);
            while let Some(file) = queue.pop_front() {
                for next in graph.get(file).into_iter().flatten() {
                    if seen.insert(next) {
                        queue.push_back(next);
                    }
                }
            }
            (from, seen)
        })
        .collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for file in graph.keys() {
        if reported.contains(file.as_str()) || !reach[file].contains(file) {
            continue;
        }
        let group: Vec<&str> =
            reach[file].iter().filter(|other| reach[**other].contains(file)).map(|f| f.as_str()).collect();
        let circle: Vec<&str> = shortest_circle(graph, file).into_iter().map(String::as_str).collect();
        out.push(match group.len() + 1 == circle.len() {
            true => circle.join(" -> "),
            false => format!("{} (and through all of {})", circle.join(" -> "), group.join(", ")),
        });
        reported.extend(group);
    }
    out
}

/// The shortest path from `start` back to itself, which the caller knows exists.
fn shortest_circle<'g>(graph: &'g Graph, start: &'g String) -> Vec<&'g String> {
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(file) = queue.pop_front() {
        for next in graph.get(file).into_iter().flatten() {
            if next == start {
                let mut path = vec![file];
                while let Some(prev) = came_from.get(path[path.len() - 1]) {
                    path.push(prev);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, file);
                queue.push_back(next);
            }
        }
    }
    Vec::new()
}

#[derive(Default)]
struct Module {
    file: String,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Names that `use` brings in, and the paths they name.
    bindings: BTreeMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    /// Names of the items the file defines.
    defined: BTreeSet<String>,
    /// Paths in code (not in `use`) that start at the crate, a parent, this module or a child.
    code_paths: Vec<Vec<String>>,
    /// Every identifier of the file's code outside `use` and `mod` declarations.
    idents: BTreeSet<String>,
}

impl Module {
    /// Whether `name` is defined here or brought in by name.
    fn names(&self, name: &str) -> bool {
        self.defined.contains(name) || self.bindings.contains_key(name)
    }
}

#[derive(Clone, Copy)]
enum Target {
    Module(usize),
    DefinedIn(usize),
    Outside,
}

impl Target {
    fn file(self, modules: &[Module]) -> Option<String> {
        match self {
            Target::Module(m) | Target::DefinedIn(m) => Some(modules[m].file.clone()),
            Target::Outside => None,
        }
    }
}

/// Every module in a file, from `lib.rs` down its `mod` declarations; the root first.
fn load_modules(read: &impl Fn(&str) -> Option<String>) -> Vec<Module> {
    let mut modules: Vec<Module> = Vec::new();
    let mut pending = VecDeque::from([(String::from("lib.rs"), None::<(usize, String)>)]);
    while let Some((file, parent)) = pending.pop_front() {
        let text = read(&file).unwrap_or_else(|| panic!("cannot read {file}"));
        let id = modules.len();
        let (mut module, children) = parse_file(&file, &tokens(&text));
        // A child of `a/mod.rs` or `lib.rs` lives in `a/`; of `a/b.rs`, in `a/b/`.
        let dir = match file.rsplit_once('/') {
            _ if file == "lib.rs" => String::new(),
            Some((dir, "mod.rs")) => format!("{dir}/"),
            _ => format!("{}/", file.trim_end_matches(".rs")),
        };
        for child in children {
            let flat = format!("{dir}{child}.rs");
            let path = if read(&flat).is_some() { flat } else { format!("{dir}{child}/mod.rs") };
            pending.push_back((path, Some((id, child))));
        }
        if let Some((parent, name)) = &parent {
            modules[*parent].children.insert(name.clone(), id);
        }
        module.parent = parent.map(|(p, _)| p);
        module.file = file;
        modules.push(module);
    }
    modules
}

/// What `path`, as written in module `from`, names.
fn resolve(modules: &[Module], from: usize, path: &[String], seen: &mut BTreeSet<(usize, String)>) -> Target {
    let Some(first) = path.first() else { return Target::Module(from) };
    let (mut at, rest) = match first.as_str() {
        "crate" => (0, &path[1..]),
        "self" => (from, &path[1..]),
        "super" => (from, path),
        name if modules[from].children.contains_key(name) || modules[from].bindings.contains_key(name) => (from, path),
        _ => return Target::Outside,
    };
    for (i, segment) in rest.iter().enumerate() {
        if segment == "super" {
            match modules[at].parent {
                Some(parent) => at = parent,
                None => return Target::Outside,
            }
            continue;
        }
        if let Some(&child) = modules[at].children.get(segment) {
            at = child;
            continue;
        }
        let through = match modules[at].bindings.get(segment) {
            Some(target) => Some(target.clone()),
            // A name brought in by a glob: from the glob's module that has it.
            None if !modules[at].defined.contains(segment) => {
                modules[at].globs.iter().find_map(|glob| match resolve(modules, at, glob, &mut seen.clone()) {
                    Target::Module(m) if modules[m].names(segment) => {
                        Some([glob.clone(), vec![segment.clone()]].concat())
                    }
                    _ => None,
                })
            }
            None => None,
        };
        let Some(through) = through else { return Target::DefinedIn(at) };
        if !seen.insert((at, segment.clone())) {
            return Target::DefinedIn(at);
        }
        return match resolve(modules, at, &through, seen) {
            Target::Module(m) => resolve(modules, m, &[&["self".to_string()], &rest[i + 1..]].concat(), seen),
            found => found,
        };
    }
    Target::Module(at)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The file's tokens with comments, literals and lifetimes left out.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if i >= chars.len() {
                    break;
                } else if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i);
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                // A lifetime or label.
                i += 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() {
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let prefix = matches!(word.as_str(), "b" | "r" | "br" | "c" | "cr");
            if prefix && at(i) == '"' {
                i = skip_string(&chars, i);
            } else if prefix && word.ends_with('r') && at(i) == '#' && (at(i + 1) == '"' || at(i + 1) == '#') {
                let hashes = (i..).take_while(|&j| at(j) == '#').count();
                let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                i += hashes + 1;
                while i < chars.len() && !chars[i..].starts_with(&closing) {
                    i += 1;
                }
                i += closing.len();
            } else if word == "r" && at(i) == '#' {
                i += 1;
            } else {
                out.push(Token::Ident(word));
            }
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token::PathSep);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// The index past the string literal whose opening quote is at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    i += 1;
    while i < chars.len() && chars[i] != '"' {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i) {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
}

/// The module a file holds (its paths and names) and the names of its child modules in files.
fn parse_file(file: &str, all: &[Token]) -> (Module, Vec<String>) {
    let tokens = without_test_code(all);
    let mut module = Module::default();
    let mut children = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some(word) = ident(&tokens, i) else {
            i += 1;
            continue;
        };
        match (word, ident(&tokens, i + 1), tokens.get(i + 2)) {
            ("mod", Some(name), Some(Token::Punct(';'))) => {
                children.push(name.to_string());
                i += 3;
            }
            ("mod", Some(name), Some(Token::Punct('{'))) => {
                panic!("{file}: inline module `{name}`: give it a file, or teach this test to read it")
            }
            ("use", _, _) => {
                let end = (i..tokens.len()).find(|&j| tokens[j] == Token::Punct(';')).unwrap_or(tokens.len());
                let mut pos = i + 1;
                for (name, path) in use_tree(&tokens[..end], &mut pos, Vec::new()) {
                    match name {
                        Some(name) => drop(module.bindings.insert(name, path)),
                        None => module.globs.push(path),
                    }
                }
                i = end + 1;
            }
            ("struct" | "enum" | "union" | "trait" | "type" | "fn" | "const" | "static", Some(name), _) => {
                module.defined.insert(name.to_string());
                module.idents.insert(word.to_string());
                i += 1;
            }
            _ if tokens.get(i + 1) == Some(&Token::PathSep) && (i == 0 || tokens[i - 1] != Token::PathSep) => {
                let mut path = vec![word.to_string()];
                let mut j = i + 1;
                while let (Some(Token::PathSep), Some(next)) = (tokens.get(j), ident(&tokens, j + 1)) {
                    path.push(next.to_string());
                    j += 2;
                }
                // Later segments name things inside the first, not names in scope here.
                module.idents.insert(path[0].clone());
                module.code_paths.push(path);
                i = j;
            }
            _ => {
                module.idents.insert(word.to_string());
                i += 1;
            }
        }
    }
    // Only paths that start inside the crate matter; the others name other crates.
    module.code_paths.retain(|p| {
        matches!(p[0].as_str(), "crate" | "super" | "self")
            || children.contains(&p[0])
            || module.bindings.contains_key(&p[0])
    });
    (module, children)
}

/// The (name, path) pairs a `use` tree starting at `pos` brings in; no name for a glob.
fn use_tree(tokens: &[Token], pos: &mut usize, mut prefix: Vec<String>) -> Vec<(Option<String>, Vec<String>)> {
    if tokens.get(*pos) == Some(&Token::PathSep) {
        // `::name`: another crate.
        prefix.push(String::from("::"));
        *pos += 1;
    }
    loop {
        match tokens.get(*pos) {
            Some(Token::Ident(name)) => {
                *pos += 1;
                if tokens.get(*pos) == Some(&Token::PathSep) {
                    prefix.push(name.clone());
                    *pos += 1;
                    continue;
                }
                let alias = match ident(tokens, *pos) {
                    Some("as") => {
                        *pos += 2;
                        Some(ident(tokens, *pos - 1).unwrap_or("_").to_string())
                    }
                    _ => None,
                };
                let path = if name == "self" { prefix } else { [prefix, vec![name.clone()]].concat() };
                let bound = alias.or_else(|| path.last().cloned()).unwrap_or_default();
                return vec![(Some(bound), path)];
            }
            Some(Token::Punct('*')) => {
                *pos += 1;
                return vec![(None, prefix)];
            }
            Some(Token::Punct('{')) => {
                *pos += 1;
                let mut out = Vec::new();
                while !matches!(tokens.get(*pos), Some(Token::Punct('}')) | None) {
                    let before = *pos;
                    out.extend(use_tree(tokens, pos, prefix.clone()));
                    if tokens.get(*pos) == Some(&Token::Punct(',')) || *pos == before {
                        *pos += 1;
                    }
                }
                *pos += 1;
                return out;
            }
            _ => return Vec::new(),
        }
    }
}

/// The tokens without items (and statements) marked `#[cfg(test)]`.
fn without_test_code(tokens: &[Token]) -> Vec<Token> {
    let is = |i: usize, t: &Token| tokens.get(i) == Some(t);
    // `#[cfg(test)]`, `#[cfg(all(test, ...))]`: the attribute's length, where it is one.
    let cfg_test = |i: usize| {
        let opening = [Token::Punct('#'), Token::Punct('['), Token::Ident("cfg".into()), Token::Punct('(')];
        if !opening.iter().enumerate().all(|(k, t)| is(i + k, t)) {
            return None;
        }
        let len = (i..tokens.len()).position(|j| tokens[j] == Token::Punct(']'))? + 1;
        let words =
            || tokens[i..i + len].iter().filter_map(|t| if let Token::Ident(w) = t { Some(w.as_str()) } else { None });
        (words().any(|w| w == "test") && !words().any(|w| w == "not" || w == "any")).then_some(len)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some(attribute) = cfg_test(i) else {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        };
        i += attribute;
        // Past the item: to a `;` outside brackets, or through its `{ ... }`.
        let mut depth = 0usize;
        while let Some(t) = tokens.get(i) {
            i += 1;
            match t {
                Token::Punct('(' | '[') => depth += 1,
                Token::Punct(')' | ']') => depth = depth.saturating_sub(1),
                Token::Punct(';') if depth == 0 => break,
                Token::Punct('{') if depth == 0 => {
                    let mut braces = 1;
                    while braces > 0 {
                        match tokens.get(i) {
                            Some(Token::Punct('{')) => braces += 1,
                            Some(Token::Punct('}')) => braces -= 1,
                            None => break,
                            _ => {}
                        }
                        i += 1;
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

/// The reader on small crates written for the purpose, so that it is known to find circles.
mod reader {
    use super::*;

    fn graph_of(files: &[(&str, &str)]) -> Graph {
        let files: BTreeMap<&str, &str> = files.iter().copied().collect();
        import_graph(|f| files.get(f).map(|s| s.to_string()))
    }

    #[test]
    fn finds_a_circle_through_three_files() {
        let graph = graph_of(&[
            ("lib.rs", "pub mod trace;"),
            ("trace/mod.rs", "mod decode; mod v1; mod v2;\npub use decode::decode;\npub struct Trace;"),
            ("trace/decode.rs", "use super::v2::V2File;\nuse super::Trace;\nfn decode(_: V2File) -> Trace { Trace }"),
            (
                "trace/v2.rs",
                "use super::v1::{len32, EncodeError};\npub struct V2File(EncodeError);\nfn f() { len32() }",
            ),
            ("trace/v1.rs", "pub fn len32() {}\npub struct EncodeError;\nfn g() { super::decode::check(); }"),
        ]);
        assert_eq!(circles(&graph), ["trace/decode.rs -> trace/v2.rs -> trace/v1.rs -> trace/decode.rs"], "{graph:#?}");
    }

    #[test]
    fn finds_two_files_that_import_each_other() {
        let graph = graph_of(&[
            ("lib.rs", "mod a;\nmod b;"),
            ("a.rs", "use crate::b::{self as bee};\npub struct A;\nfn f() { bee::g() }"),
            ("b.rs", "pub fn g() { let _ = crate::a::A; }"),
        ]);
        assert_eq!(circles(&graph), ["a.rs -> b.rs -> a.rs"]);
    }

    #[test]
    fn follows_re_exports_to_where_items_are_defined() {
        // The parent re-exports its children and they use its items: a facade, not a circle. The
        // child `b` is reached through the re-export, so `c` imports `b`, which imports `c` back.
        let files = [
            ("lib.rs", "pub mod m;\npub use m::Model;"),
            ("m/mod.rs", "mod a;\nmod b;\nmod c;\npub use a::A;\npub use b::*;\npub use c::C;\npub struct Model;"),
            ("m/a.rs", "use super::Model;\npub struct A(Model);"),
            ("m/b.rs", "use crate::Model;\npub struct B(Model);\nfn f() -> super::C { todo!() }"),
            ("m/c.rs", "use super::B;\npub struct C(B);"),
        ];
        let graph = graph_of(&files);
        assert_eq!(graph["m/a.rs"], BTreeSet::from(["m/mod.rs".to_string()]));
        assert!(graph["m/mod.rs"].is_empty(), "{graph:#?}");
        assert_eq!(circles(&graph), ["m/b.rs -> m/c.rs -> m/b.rs"]);
    }

    #[test]
    fn a_parent_that_uses_what_it_re_exports_imports_it() {
        let graph = graph_of(&[
            ("lib.rs", "mod m;"),
            ("m/mod.rs", "mod a;\npub use a::A;\npub struct Model(A);"),
            ("m/a.rs", "pub struct A(super::Model);"),
        ]);
        assert_eq!(circles(&graph), ["m/a.rs -> m/mod.rs -> m/a.rs"]);
    }

    #[test]
    fn a_name_inside_another_path_is_not_a_use_of_it() {
        let graph = graph_of(&[
            ("lib.rs", "mod m;"),
            ("m/mod.rs", "mod decode;\npub use decode::decode;\npub struct T(rmp_serde::decode::Error);"),
            ("m/decode.rs", "use super::T;\npub fn decode() -> T { todo!() }"),
        ]);
        assert!(graph["m/mod.rs"].is_empty(), "{graph:#?}");
    }

    #[test]
    fn leaves_out_tests_comments_and_literals() {
        let graph = graph_of(&[
            ("lib.rs", "mod a;\nmod b;\nmod t;"),
            ("a.rs", "pub fn f() {}\n#[cfg(test)]\nmod tests { use crate::b::g; }\n#[cfg(test)]\nmod more;"),
            (
                "b.rs",
                "use crate::a::f;\npub fn g() { f(); let _ = \"crate::t::x\"; let _ = r#\"\"super::t\"\"#; }\n\
                 // crate::t::T\n/* crate::t::T /* nested */ */\nfn h<'a>(_: &'a str) -> char { 'x' }",
            ),
            ("t.rs", "pub struct T;\nfn x() { crate::b::g() }"),
        ]);
        assert_eq!(graph["a.rs"], BTreeSet::new());
        assert_eq!(graph["b.rs"], BTreeSet::from(["a.rs".to_string()]));
        assert!(circles(&graph).is_empty());
    }

    #[test]
    fn reads_children_of_a_file_module_from_its_folder() {
        let graph = graph_of(&[
            ("lib.rs", "mod ingest;"),
            ("ingest.rs", "mod fast;\npub struct Ingest;\nfn f() { fast::go() }"),
            ("ingest/fast.rs", "use super::Ingest;\npub fn go() -> Option<Ingest> { None }"),
        ]);
        assert_eq!(circles(&graph), ["ingest.rs -> ingest/fast.rs -> ingest.rs"]);
    }
}
