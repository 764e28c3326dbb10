//! No import cycles between the modules of the root crate, nor between those
//! of each member crate under `crates/`, read from the source. (Cargo itself
//! refuses a cycle between crates, so each crate is checked on its own.)
//!
//! Every `crate::...`, `super::...` and `self::...` path in a module's
//! non-test code is an edge to the module it names. An edge between two
//! modules that do not nest is lifted to the pair of siblings under their
//! lowest common ancestor (`broker::assume -> source` counts as `broker ->
//! source`), so a cycle through a child module is found at the level where
//! it matters. A parent and its own children may name each other (Rust's
//! module tree needs that); no two siblings may depend on each other, even
//! through others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // `foo/mod.rs`; a `foo/` beside `foo.rs` is read from there.
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !dir.join(format!("{name}.rs")).exists() {
                let mut module = prefix.to_vec();
                module.push(name);
                modules(&path, &module, out);
            }
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let mut module = prefix.to_vec();
        if !matches!(stem, "lib" | "main" | "mod") {
            module.push(stem.to_owned());
        }
        if stem == "main" || stem == "tests" {
            continue; // the binary, and test modules in their own files
        }
        out.insert(
            module.clone(),
            non_test_code(&std::fs::read_to_string(&path).unwrap()),
        );
        let children = dir.join(stem);
        if children.is_dir() && !matches!(stem, "lib" | "mod") {
            modules(&children, &module, out);
        }
    }
}

/// The file's code before its `#[cfg(test)]` module, without comments.
fn non_test_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The paths `code` names from the crate root, `super` or `self`, resolved
/// against `here`; brace groups (`use crate::{a, b::c}`) are expanded one level.
fn named_paths(here: &[String], code: &str) -> Vec<Module> {
    let mut found = Vec::new();
    for (anchor, base) in [
        ("crate::", Vec::new()),
        ("super::", here[..here.len().saturating_sub(1)].to_vec()),
        ("self::", here.to_vec()),
    ] {
        let mut rest = code;
        while let Some(at) = rest.find(anchor) {
            let before = rest[..at].chars().last();
            rest = &rest[at + anchor.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `foo::crate::`, `super::super::` is read from its first part
            }
            let mut path = base.clone();
            let mut tail = rest;
            while let Some(next) = tail.strip_prefix("super::") {
                path.pop();
                tail = next;
            }
            if let Some(group) = tail.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let mut p = path.clone();
                    p.extend(segments(item.trim()));
                    found.push(p);
                }
            } else {
                path.extend(segments(tail));
                found.push(path);
            }
        }
    }
    found
}

fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

/// The longest known module `path` starts with.
fn module_of(path: &[String], known: &BTreeMap<Module, String>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| known.contains_key(m))
}

fn edges(known: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, code) in known {
        for path in named_paths(from, code) {
            let Some(to) = module_of(&path, known) else {
                continue;
            };
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // one nests in the other
            }
            graph
                .entry(from[..=common].to_vec())
                .or_default()
                .insert(to[..=common].to_vec());
        }
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_checker_finds_a_cycle_between_siblings_through_a_child() {
    let known: BTreeMap<Module, String> = [
        (vec![], String::new()),
        (vec!["a".into()], "use crate::b::Thing;".into()),
        (vec!["a".into(), "x".into()], "use super::Y;".into()),
        (vec!["b".into()], String::new()),
        (vec!["b".into(), "inner".into()], "crate::a::x::f()".into()),
        (vec!["c".into()], "use crate::{a::Y, b};".into()),
    ]
    .into_iter()
    .collect();
    let found = cycles(&edges(&known));
    assert_eq!(found.len(), 1, "{found:?}");
    let mut names: Vec<String> = found[0].iter().map(|m| m.join("::")).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
}

/// The import cycles in the crate whose source is at `src`, one line each,
/// and the graph they were found in.
fn crate_cycles(src: &Path) -> (BTreeMap<Module, String>, Vec<String>, usize) {
    let mut known = BTreeMap::new();
    modules(src, &[], &mut known);
    let graph = edges(&known);
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|c| {
            let mut names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
            names.sort();
            names.join(" <-> ")
        })
        .collect();
    let edge_count = graph.values().map(BTreeSet::len).sum();
    (known, found, edge_count)
}

#[test]
fn the_crate_has_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    modules(&src, &[], &mut known);
    assert!(known.contains_key(&vec!["broker".to_owned(), "assume".to_owned()]));
    assert!(edges(&known)[&vec!["broker".to_owned()]].contains(&vec!["source".to_owned()]));
    let (_, found, _) = crate_cycles(&src);
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn the_member_crates_have_no_import_cycles() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let (known, found, edge_count) = crate_cycles(&dir.join("src"));
        assert!(found.is_empty(), "{name}: import cycles: {found:#?}");
        if name == "credbroker-policy" {
            // Read as a crate of its own: its modules are at its root.
            assert!(known.contains_key(&vec!["lint_issuer".to_owned()]));
            assert!(edge_count > 0, "{name}: no edge read between its modules");
        }
        checked.push(name);
    }
    checked.sort();
    assert!(
        checked.iter().any(|c| c == "credbroker-policy")
            && checked.iter().any(|c| c == "credbroker-emulator"),
        "member crates read: {checked:?}"
    );
}
