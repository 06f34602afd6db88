//! The rule that lets old plugins run on new hosts: an interface of `mica:plugin` that has shipped
//! never changes, and a world only gains exports. Each released version is frozen in
//! `wit/since_v<version>/plugin.wit`; this test compares every frozen copy with `wit/plugin.wit`,
//! item by item (doc comments and `@since` gates aside, which change nothing a component sees).

use std::collections::BTreeMap;
use std::path::Path;

/// The top-level `interface` and `world` blocks of a WIT file: name → lines that matter.
fn blocks(wit: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Vec<String>, i32)> = None;
    for line in wit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") || line.starts_with('@') {
            continue;
        }
        if current.is_none() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some(kind @ ("interface" | "world")), Some(name)) => {
                    current = Some((format!("{kind} {name}"), Vec::new(), 0));
                }
                _ => continue,
            }
        }
        let (name, lines, depth) = current.as_mut().expect("set above");
        *depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        lines.push(line.to_string());
        if *depth == 0 {
            out.insert(name.clone(), std::mem::take(lines));
            current = None;
        }
    }
    out
}

#[test]
fn every_shipped_interface_is_unchanged_and_worlds_only_grow() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let current = blocks(&std::fs::read_to_string(wit.join("plugin.wit")).unwrap());
    let mut frozen_versions = 0;
    for dir in std::fs::read_dir(&wit).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("since_v") {
            continue;
        }
        frozen_versions += 1;
        let frozen = blocks(&std::fs::read_to_string(dir.join("plugin.wit")).unwrap());
        assert!(
            frozen.len() >= 8,
            "{name}: only {} blocks read",
            frozen.len()
        );
        for (item, lines) in &frozen {
            let now = current
                .get(item)
                .unwrap_or_else(|| panic!("{item} of {name} is gone from wit/plugin.wit"));
            if item.starts_with("interface") {
                assert_eq!(now, lines, "{item} changed since {name}");
            } else {
                for line in lines {
                    assert!(now.contains(line), "{item} lost `{line}` since {name}");
                }
            }
        }
    }
    assert!(
        frozen_versions >= 1,
        "no frozen version in {}",
        wit.display()
    );
}

#[test]
fn the_reader_sees_a_changed_field_and_a_lost_export() {
    let old = "interface a {\n  /// doc\n  f: func() -> u32;\n}\nworld w {\n  export a;\n}\n";
    let changed = "interface a {\n  f: func() -> u64;\n}\nworld w {\n}\n";
    let (old, changed) = (blocks(old), blocks(changed));
    assert_eq!(
        old["interface a"],
        ["interface a {", "f: func() -> u32;", "}"]
    );
    assert_ne!(old["interface a"], changed["interface a"]);
    assert!(!changed["world w"].contains(&"export a;".to_string()));
}
