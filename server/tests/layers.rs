//! The layering rules of ARCHITECTURE.md, checked against the code: every
//! top-level module of `server/src` sits on one line of the ```layers block, and a
//! module may use (`crate::…`) only modules on lines below its own. So there is no
//! import loop, the ledger never reaches up into payee policy, and a forbidden
//! `use` fails here with the file and line that added it. Also: only `http` (and
//! the crate root) may use axum.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first, from the fenced ```layers block of ARCHITECTURE.md.
fn layers_from(markdown: &str) -> Vec<Vec<String>> {
    let mut lines = markdown.lines().skip_while(|l| l.trim() != "```layers").skip(1);
    let mut layers = Vec::new();
    for line in lines.by_ref() {
        if line.trim() == "```" {
            return layers;
        }
        let names: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if !names.is_empty() {
            layers.push(names);
        }
    }
    panic!("ARCHITECTURE.md has no closed ```layers block");
}

/// One `crate::<module>` use: which module, where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Use {
    module: String,
    at: String,
}

/// Every source file as (top-level module, path for messages, text).
fn sources(src: &Path) -> Vec<(String, String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(src).expect("under src");
            let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).expect("read source");
            (module, format!("server/src/{}", relative.display()), text)
        })
        .collect()
}

/// The modules each top-level module uses, with where; comments are skipped.
fn uses(files: &[(String, String, String)]) -> BTreeMap<String, BTreeSet<Use>> {
    let mut all: BTreeMap<String, BTreeSet<Use>> = BTreeMap::new();
    for (module, path, text) in files {
        let entry = all.entry(module.clone()).or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                let after = &rest[i + "crate::".len()..];
                let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != *module {
                    entry.insert(Use { module: name, at: format!("{path}:{}", n + 1) });
                }
                rest = after;
            }
        }
    }
    all
}

/// What breaks the rules, one line each.
fn violations(layers: &[Vec<String>], files: &[(String, String, String)]) -> Vec<String> {
    let root = ["lib", "main"];
    let level: BTreeMap<&str, usize> =
        layers.iter().enumerate().flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), i))).collect();
    let mut found = Vec::new();
    let modules: BTreeSet<&str> = files.iter().map(|(m, _, _)| m.as_str()).collect();
    for module in &modules {
        if !root.contains(module) && !level.contains_key(module) {
            found.push(format!("module `{module}` is on no line of ARCHITECTURE.md's layers"));
        }
    }
    for name in level.keys() {
        if !modules.contains(name) {
            found.push(format!("ARCHITECTURE.md's layers name `{name}`, which is not a module of server/src"));
        }
    }
    for (module, used) in uses(files) {
        let Some(&own) = level.get(module.as_str()) else { continue };
        for u in used {
            match level.get(u.module.as_str()) {
                // A lower line has a larger index (the block is written top first).
                Some(&theirs) if theirs > own => {}
                Some(_) => found.push(format!(
                    "{}: `{module}` uses `{}`, which is not on a lower line of the layers",
                    u.at, u.module
                )),
                None => {}
            }
        }
    }
    for (module, path, text) in files {
        if module == "http" || root.contains(&module.as_str()) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.split("//").next().unwrap_or("").contains("axum::") {
                found.push(format!("{path}:{}: only `http` may use axum", n + 1));
            }
        }
        for (line, name) in public_fns_returning_json_values(text) {
            found.push(format!("{path}:{line}: `{name}` returns a serde_json::Value; return a typed answer"));
        }
    }
    found
}

/// Public functions whose return type mentions `Value` (serde_json's): the domain
/// answers with typed structs that HTTP renders, not with loose JSON.
fn public_fns_returning_json_values(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("pub fn ").or_else(|| trimmed.strip_prefix("pub async fn ")) else {
            continue;
        };
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        // The signature runs to the body's `{` (or a `;`), over as many lines as it takes.
        let from = text.lines().skip(n).collect::<Vec<_>>().join("\n");
        let signature = &from[..from.find(['{', ';']).unwrap_or(from.len())];
        let returns = signature.rsplit_once("->").map(|(_, r)| r).unwrap_or("");
        if returns.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').any(|word| word == "Value") {
            found.push((n + 1, name));
        }
    }
    found
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

#[test]
fn the_code_keeps_the_layers_architecture_md_states() {
    let markdown = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let layers = layers_from(&markdown);
    let files = sources(&workspace().join("server/src"));
    let found = violations(&layers, &files);
    assert!(found.is_empty(), "layering rules broken:\n{}", found.join("\n"));
}

/// The check itself: a ledger file that reaches up into payees, a `store` that
/// uses axum, a module the layers forget and a loop are each reported.
#[test]
fn the_check_reports_a_forbidden_use() {
    let layers = layers_from("text\n```layers\nhttp\npayees\nledger\nstore\n```\nmore");
    assert_eq!(layers, vec![vec!["http"], vec!["payees"], vec!["ledger"], vec!["store"]]);
    let file = |module: &str, path: &str, text: &str| (module.to_string(), path.to_string(), text.to_string());
    let clean = vec![
        file("http", "server/src/http/mod.rs", "use axum::Router;\nuse crate::payees::users;\n"),
        file("payees", "server/src/payees/users.rs", "use crate::ledger::user_wallet;\n"),
        file("ledger", "server/src/ledger/mod.rs", "use crate::store::Store; // crate::payees in a comment\n"),
        file("store", "server/src/store/mod.rs", "use sqlx::AnyPool;\n"),
    ];
    assert_eq!(violations(&layers, &clean), Vec::<String>::new());

    let mut upward = clean.clone();
    upward.push(file("ledger", "server/src/ledger/transfers.rs", "\nuse crate::payees::compliance;\n"));
    assert_eq!(
        violations(&layers, &upward),
        vec![
            "server/src/ledger/transfers.rs:2: `ledger` uses `payees`, which is not on a lower line of the layers"
                .to_string()
        ]
    );

    let mut axum_below = clean.clone();
    axum_below.push(file("store", "server/src/store/x.rs", "fn f(_: axum::http::Uri) {}\n"));
    assert_eq!(violations(&layers, &axum_below), vec!["server/src/store/x.rs:1: only `http` may use axum".to_string()]);

    let mut unplaced = clean.clone();
    unplaced.push(file("rails", "server/src/rails.rs", ""));
    assert_eq!(
        violations(&layers, &unplaced),
        vec!["module `rails` is on no line of ARCHITECTURE.md's layers".to_string()]
    );

    let mut loose = clean.clone();
    loose.push(file(
        "payees",
        "server/src/payees/x.rs",
        "pub fn ok(v: &Value) -> String {}\npub async fn get(\n    conn: &mut C,\n) -> Result<serde_json::Value, E> {}\n",
    ));
    assert_eq!(
        violations(&layers, &loose),
        vec!["server/src/payees/x.rs:2: `get` returns a serde_json::Value; return a typed answer".to_string()]
    );

    // Two modules on one line may not use each other either, so no loop can hide there.
    let same_line = layers_from("```layers\npayees ledger\nstore\n```");
    let looped = vec![
        file("payees", "server/src/payees/mod.rs", "use crate::ledger::x;\n"),
        file("ledger", "server/src/ledger/mod.rs", "use crate::payees::y;\n"),
        file("store", "server/src/store/mod.rs", ""),
    ];
    assert_eq!(violations(&same_line, &looped).len(), 2);
}
