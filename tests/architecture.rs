//! The layers of `src/` as DESIGN.md draws them: no import cycle between the library's top-level
//! modules, the report model below the detectors and the writers, the gate above the report and
//! below the config. Read from the source text (`crate::…` paths outside test modules), so a new
//! cycle fails here with the modules that form it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The items `lib.rs` re-exports at the crate root, by the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Baseline", "engine"),
    ("Data", "engine"),
    ("Engine", "engine"),
    ("merge", "engine"),
    ("Error", "error"),
    ("Result", "error"),
    ("FailOn", "gate"),
    ("Policy", "gate"),
    ("Verdict", "gate"),
    ("Profile", "profile"),
    ("Report", "report"),
    ("Settings", "settings"),
    ("SettingsBuilder", "settings"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules each library module's code (tests left out) refers to.
fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if !modules.contains(&module) {
            continue; // lib.rs, main.rs and the binary's own modules
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // Code only: no comments (doc links name other modules without importing them), no
        // test modules.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let deps = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                // `crate::{a, b::c}`: each path's first name.
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|p| p.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default(),
                ],
            };
            for name in names {
                let target = ROOT_ITEMS
                    .iter()
                    .find(|(item, _)| *item == name)
                    .map(|(_, m)| m.to_string())
                    .unwrap_or_else(|| name.to_string());
                if modules.contains(&target) && target != module {
                    deps.insert(target);
                }
            }
        }
    }
    graph
}

/// A cycle of the graph, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|x| x == n).unwrap_or(0);
                let mut c = stack[at..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = edges(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() >= 10, "{graph:?}");
    if let Some(c) = cycle(&graph) {
        panic!("import cycle: {}\n{graph:#?}", c.join(" -> "));
    }
    let deps = |m: &str| graph.get(m).cloned().unwrap_or_default();
    // The report model is below the detectors and the writers; the gate is above the report
    // and does not read the config; the config reads no findings.
    assert!(deps("detect").contains("report"), "{graph:?}");
    for (m, not) in [
        ("report", "detect"),
        ("report", "gate"),
        ("report", "config"),
        ("gate", "config"),
        ("gate", "detect"),
        ("detect", "config"),
        ("rows", "detect"),
        ("profile", "detect"),
    ] {
        assert!(!deps(m).contains(not), "{m} imports {not}: {graph:?}");
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let g = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert_eq!(cycle(&g(&[("a", "b"), ("b", "c")])), None);
    assert_eq!(
        cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
