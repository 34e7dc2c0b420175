//! Which folder of the service (`lambda/src`) may import which, and no import cycle between
//! its files. ARCHITECTURE.md explains the layers; this test is where they are enforced.
//!
//! Every `crate::…` and `super::…` path in a file's non-test code is an edge to the file that
//! defines what it names (through `pub use` re-exports to where the item really lives).
//! Declaring a child module (`mod x;`) is not an import.

// Assertions unwrap, in helpers too (clippy's allow-unwrap-in-tests covers only #[test] fns).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use imagegen_tests::project_root;

/// What each top-level module of the service may import besides itself. A module not listed
/// may import nothing of the crate. `images` is the separate codec crate, open to all.
const MAY_IMPORT: &[(&str, &[&str])] = &[
    // Rules and types: no I/O, no ports, no App.
    ("domain", &[]),
    // Ports, each with its adapters beneath it.
    ("store", &["domain"]),
    ("blobs", &["domain", "secrets"]),
    ("queue", &["domain"]),
    ("secrets", &[]),
    ("gateway", &["aws_error", "domain", "secrets"]),
    ("gemini", &["secrets", "tls"]),
    // Sending webhooks: the destination rules are the domain's.
    ("webhooks", &["domain", "tls"]),
    ("telemetry", &[]),
    ("tls", &[]),
    // An AWS SDK error in one line (the API Gateway adapter's, and the toolkit's).
    ("aws_error", &[]),
    // The ports and settings every use case needs.
    ("config", &["domain", "gemini"]),
    (
        "app",
        &[
            "blobs",
            "config",
            "domain",
            "gateway",
            "queue",
            "store",
            "telemetry",
        ],
    ),
    // What the service does, over the ports.
    (
        "usecases",
        &[
            "app",
            "blobs",
            "config",
            "domain",
            "gateway",
            "gemini",
            "queue",
            "store",
            "telemetry",
            "webhooks",
        ],
    ),
    // The driving sides: HTTP and the queue consumer. Port types (errors, cursors) are fine;
    // the AWS and dev compositions are not.
    (
        "http",
        &[
            "app",
            "blobs",
            "config",
            "domain",
            "store",
            "telemetry",
            "usecases",
        ],
    ),
    ("worker", &["domain", "queue", "telemetry", "usecases"]),
    // Compositions: the only places that pick adapters.
    (
        "aws",
        &[
            "app",
            "blobs",
            "config",
            "domain",
            "gateway",
            "gemini",
            "queue",
            "secrets",
            "store",
            "telemetry",
            "tls",
            "webhooks",
        ],
    ),
    (
        "dev",
        &[
            "app",
            "blobs",
            "config",
            "domain",
            "gemini",
            "http",
            "queue",
            "secrets",
            "store",
            "telemetry",
            "usecases",
            "webhooks",
            "worker",
        ],
    ),
];

/// Ports whose `mod.rs` must not re-export an adapter beneath it.
const PORTS: &[&str] = &["blobs", "gateway", "gemini", "queue", "secrets", "store"];

fn src() -> PathBuf {
    project_root().join("lambda/src")
}

/// Every source file of the library, as its module path (`["http", "routes", "jobs"]`;
/// `lib.rs` is `[]`), without `bin/`.
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if path.is_dir() {
                if prefix.is_empty() && name == "bin" {
                    continue;
                }
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut module = prefix.to_vec();
                if stem != "mod" && !(prefix.is_empty() && stem == "lib") {
                    module.push(stem.to_owned());
                }
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&src(), &[], &mut out);
    out
}

/// The file's code without comments and without its `#[cfg(test)]` module (tests may reach for
/// any adapter).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    without_comments_and_strings(text)
}

/// `code` without its comments and the contents of its string literals, in one pass that knows
/// both (`"https://…"` holds no comment, `"must use https"` is no `use`); char literals such as
/// `'"'` are kept whole so they open no string.
fn without_comments_and_strings(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let word_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        match (c, at(i + 1)) {
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                let mut depth = 0;
                while i < chars.len() {
                    match (chars[i], at(i + 1)) {
                        ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
                        ('*', Some('/')) => {
                            (depth, i) = (depth - 1, i + 2);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => i += 1,
                    }
                }
                out.push(' ');
            }
            // A raw string, `r"…"`, `r#"…"#`, … (or `br…`): to its own closing.
            ('r', Some('"' | '#')) if !word_before || (i > 0 && chars[i - 1] == 'b') => {
                let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                if at(i + 1 + hashes) != Some('"') {
                    out.push(c);
                    i += 1;
                    continue;
                }
                i += 2 + hashes;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                while i < chars.len() && !chars[i..].starts_with(&closing) {
                    i += 1;
                }
                i += closing.len();
                out.push_str("\"\"");
            }
            ('"', _) => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            ('\'', Some('\\')) if at(i + 3) == Some('\'') => {
                out.extend(&chars[i..i + 4]);
                i += 4;
            }
            ('\'', Some(_)) if at(i + 2) == Some('\'') => {
                out.extend(&chars[i..i + 3]);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The `use` trees and inline paths of a file, expanded to full paths (`crate`/`super`/`self`
/// first), each with whether it is a `pub use`.
fn paths(code: &str) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut rest = code;
    // `use` statements, braces and all.
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let starts_statement = before
            .chars()
            .last()
            .is_none_or(|c| c.is_whitespace() || c == ';' || c == '{' || c == '}');
        let is_pub = before.trim_end().ends_with("pub") || before.trim_end().ends_with(')');
        rest = &rest[at + 4..];
        if !starts_statement {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
        rest = &rest[end..];
        for path in expand(&tree) {
            out.push((path, is_pub));
        }
    }
    // Paths written inline in code: `crate::store::StoreError::Unavailable`.
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            let prev = code[..at].chars().last();
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // A group (`crate::{…}`) is a `use` tree, read above.
            if code[at + path.len()..].starts_with('{') {
                continue;
            }
            let segments: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            out.push((segments, false));
        }
    }
    out
}

/// `a::{b,c::{d,e}}` into `a::b`, `a::c::d`, `a::c::e` (renames and globs keep their path).
fn expand(tree: &str) -> Vec<Vec<String>> {
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        let path = path.split("as").next().unwrap_or(path);
        return vec![
            path.split("::")
                .filter(|s| !s.is_empty() && *s != "*")
                .map(str::to_owned)
                .collect(),
        ];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|part| {
            expand(part).into_iter().map(|tail| {
                let mut full = prefix.clone();
                full.extend(tail.into_iter().filter(|s| s != "self"));
                full
            })
        })
        .collect()
}

/// One file's imports and re-exports, by module path.
struct Parsed {
    /// Full paths (from the crate root) this file names.
    uses: Vec<Vec<String>>,
    /// `pub use` re-exports: the name visible here → the full path it stands for.
    reexports: BTreeMap<String, Vec<String>>,
}

/// `path` as written in module `module`, from the crate root; `None` for other crates.
fn absolute(module: &[String], path: &[String], is_mod_rs: bool) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "super" => {
            // In `a/b.rs` (module a::b) `super` is `a`; in `a/b/mod.rs` (also a::b) too.
            let _ = is_mod_rs;
            let mut base = module[..module.len().saturating_sub(1)].to_vec();
            let mut rest = rest;
            while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
                base.pop();
                rest = tail;
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        "self" => {
            let mut base = module.to_vec();
            base.extend(rest.iter().cloned());
            Some(base)
        }
        // A bare child module of this one (`pub use local::X` in a mod.rs).
        name if is_mod_rs || module.is_empty() => {
            let _ = name;
            let mut base = module.to_vec();
            base.extend(path.iter().cloned());
            Some(base)
        }
        _ => None,
    }
}

fn parse_all() -> BTreeMap<Vec<String>, Parsed> {
    let modules = modules();
    let mut parsed = BTreeMap::new();
    for (module, file) in &modules {
        let is_mod_rs = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let mut uses = Vec::new();
        let mut reexports = BTreeMap::new();
        for (path, is_pub) in paths(&code(file)) {
            let first = path.first().map(String::as_str);
            let bare_child = first.is_some_and(|f| {
                modules.contains_key(&[module.clone(), vec![f.to_owned()]].concat())
            });
            if !matches!(first, Some("crate" | "super" | "self")) && !bare_child {
                continue;
            }
            let Some(full) = absolute(module, &path, is_mod_rs) else {
                continue;
            };
            if is_pub && let Some(name) = path.last() {
                reexports.insert(name.clone(), full.clone());
            }
            uses.push(full);
        }
        parsed.insert(module.clone(), Parsed { uses, reexports });
    }
    parsed
}

/// The file (module path) that defines what `path` names, following re-exports.
fn resolve(
    path: &[String],
    parsed: &BTreeMap<Vec<String>, Parsed>,
    depth: usize,
) -> Option<Vec<String>> {
    if path.first().map(String::as_str) == Some("images") || depth > 8 {
        return None;
    }
    // The longest prefix that is a file.
    let mut module: Vec<String> = Vec::new();
    for (i, segment) in path.iter().enumerate() {
        let mut next = module.clone();
        next.push(segment.clone());
        if parsed.contains_key(&next) {
            module = next;
            continue;
        }
        // Not a module: an item of `module`, or a name it re-exports.
        if let Some(target) = parsed.get(&module).and_then(|p| p.reexports.get(segment)) {
            let mut target = target.clone();
            target.extend(path[i + 1..].iter().cloned());
            return resolve(&target, parsed, depth + 1);
        }
        break;
    }
    Some(module)
}

fn top(module: &[String]) -> &str {
    module.first().map_or("lib", String::as_str)
}

/// Every file-to-file import edge of the library's non-test code.
fn edges() -> BTreeSet<(Vec<String>, Vec<String>)> {
    let parsed = parse_all();
    let mut edges = BTreeSet::new();
    for (module, file) in &parsed {
        for path in &file.uses {
            if let Some(target) = resolve(path, &parsed, 0)
                && &target != module
                && !target.is_empty()
            {
                edges.insert((module.clone(), target));
            }
        }
    }
    edges
}

#[test]
fn each_folder_imports_only_what_its_layer_may() {
    let rules: BTreeMap<&str, &[&str]> = MAY_IMPORT.iter().copied().collect();
    let edges = edges();
    assert!(
        edges.len() > 100,
        "the import scan found only {} edges: it is broken",
        edges.len()
    );
    let mut broken = Vec::new();
    for (from, to) in &edges {
        let (from_top, to_top) = (top(from), top(to));
        if from.is_empty() || from_top == to_top || to_top == "images" {
            continue;
        }
        let allowed = rules.get(from_top).copied().unwrap_or(&[]);
        if !allowed.contains(&to_top) {
            broken.push(format!("{} -> {}", from.join("::"), to.join("::")));
        }
    }
    assert!(
        broken.is_empty(),
        "imports across layers that the rules forbid (see MAY_IMPORT and ARCHITECTURE.md):\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other_even_through_others() {
    let edges = edges();
    let mut graph: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (from, to) in &edges {
        graph.entry(from).or_default().push(to);
    }
    // Depth-first search for a back edge; the first cycle found is reported whole.
    fn visit<'a>(
        node: &'a Vec<String>,
        graph: &BTreeMap<&'a Vec<String>, Vec<&'a Vec<String>>>,
        stack: &mut Vec<&'a Vec<String>>,
        done: &mut BTreeSet<&'a Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|m| m.join("::")).collect();
            cycle.push(node.join("::"));
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("an import cycle between files: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn ports_do_not_re_export_their_adapters() {
    let parsed = parse_all();
    for port in PORTS {
        let module = vec![(*port).to_owned()];
        let file = &parsed[&module];
        for (name, target) in &file.reexports {
            assert!(
                !(target.len() > 1 && target[0] == *port),
                "{port}/mod.rs re-exports `{name}` from {}: name the adapter's module instead",
                target.join("::")
            );
        }
    }
}

#[test]
fn comments_and_string_contents_are_not_code() {
    let code = r##"let u = "https://a.example"; let m = "must use https; {x}"; let q = '"'; let r = r#"use a::{b"#; /* use b::c; */ use crate::domain::ids; // use d::e;"##;
    let stripped = without_comments_and_strings(code);
    for gone in ["https", "use a::", "use b::", "use d::"] {
        assert!(!stripped.contains(gone), "{gone} in {stripped}");
    }
    for kept in [
        "let u = \"\";",
        "let q = '\"';",
        "let r = \"\";",
        "use crate::domain::ids;",
    ] {
        assert!(stripped.contains(kept), "{kept} not in {stripped}");
    }
    // The `use` statement, and the same path seen inline: nothing from inside the strings.
    let found = paths(&stripped);
    assert!(!found.is_empty());
    for (path, _) in found {
        assert_eq!(path, ["crate", "domain", "ids"]);
    }
}

#[test]
fn the_scan_sees_a_layering_violation() {
    // The rules above only hold if the scan reads imports the way the compiler does.
    let code = "use crate::{app::App, store::{memory::MemoryStore, Store}};\nfn f() { crate::http::router(); }\npub use super::x::Y;";
    let found: Vec<String> = paths(code).iter().map(|(p, _)| p.join("::")).collect();
    for expected in [
        "crate::app::App",
        "crate::store::memory::MemoryStore",
        "crate::store::Store",
        "crate::http::router",
        "super::x::Y",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected} not in {found:?}"
        );
    }
    assert!(
        paths(code)
            .iter()
            .any(|(p, is_pub)| *is_pub && p.join("::") == "super::x::Y")
    );
}

#[test]
fn the_readme_layout_and_the_code_map_name_every_part_of_the_service() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    let layout = readme
        .split("\n## Layout\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let architecture = std::fs::read_to_string(project_root().join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name == "lib.rs" {
            continue;
        }
        let shown = if path.is_dir() {
            format!("{name}/")
        } else {
            name
        };
        if !layout.contains(&format!("src/{shown}")) {
            missing.push(format!("README layout: src/{shown}"));
        }
        if !architecture.contains(&format!("`{shown}`")) {
            missing.push(format!("ARCHITECTURE.md code map: `{shown}`"));
        }
    }
    // Every folder at the root (the build output and git's own aside).
    for entry in std::fs::read_dir(project_root()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let ours = path.is_dir() && !matches!(name.as_str(), ".git" | "target");
        if ours && !layout.lines().any(|l| l.starts_with(&name)) {
            missing.push(format!("README layout: {name}/"));
        }
    }
    assert!(missing.is_empty(), "not described:\n{}", missing.join("\n"));
}
