//! Embeds the widget bundle so the server needs no files or tools at run time:
//! the wasm-bindgen output (built by `cargo xtask widget` into `<target>/widget`, or
//! `$DOTS_WIDGET_DIR`) and the hand-written files in `widget/web/` (loader, frame
//! boot script, stylesheet, TypeScript declarations; minified where `cargo xtask
//! widget` minified that same source). Each file is stored as is and
//! brotli-compressed (quality 11) and gzip-compressed (level 9, for clients without
//! brotli), and a hash of all of them versions their URLs.
//! Without a wasm bundle the server still builds; its widget routes then answer
//! `widget_not_built`.
//!
//! The dashboard (`dashboard/`, built by `cargo xtask widget` too, into
//! `<target>/dashboard` or `$DOTS_DASHBOARD_DIR`) is embedded the same way, with its
//! own version (`dashboard_version.txt`).
//!
//! The widget's languages other than English (compiled into the Wasm) are written
//! here from its catalogue (`widget/src/words`, included below) as
//! `words-{lang}.json`, served in the bundle; `words_assets.rs` lists them.

use std::io::Write;
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "../widget/src/words/mod.rs"]
mod words;

const BUNDLE_FILES: [&str; 2] = ["dots_widget.js", "dots_widget_bg.wasm"];
const WEB_FILES: [&str; 4] = ["dots.js", "dots.d.ts", "frame.js", "widget.css"];
const DASHBOARD_FILES: [&str; 2] = ["dots_dashboard.js", "dots_dashboard_bg.wasm"];
const DASHBOARD_WEB_FILES: [&str; 3] = ["boot.js", "dashboard.css", "preview.js"];

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bundle = std::env::var_os("DOTS_WIDGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
        out.ancestors().nth(4).expect("OUT_DIR is inside the target directory").join("widget")
    });
    // Read at run time, and watched by relative paths: clones sharing one target
    // directory share this compiled script and its last output, and each must
    // embed its own files.
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=DOTS_WIDGET_DIR");
    let widget = app_files(&manifest_dir, "widget/web", &bundle, &BUNDLE_FILES, &WEB_FILES);
    println!("cargo:rerun-if-changed=../widget/src/words");
    let languages = words::LANGUAGES[1..].iter().map(|w| (format!("words-{}.json", w.lang()), words_json(w)));
    let languages: Vec<_> = languages.collect();
    let listed: String = languages
        .iter()
        .map(|(name, _)| format!("({name:?}, asset!({name:?}, \"application/json; charset=utf-8\")),"))
        .collect();
    std::fs::write(
        out.join("words_assets.rs"),
        format!("/// The widget's other languages (`frame.js` fetches the payee's).\nconst WORDS: [(&str, Asset); {}] = [{listed}];\n", languages.len()),
    )
    .expect("OUT_DIR is writable");
    let hash = embed(&out, widget.into_iter().chain(languages));
    std::fs::write(out.join("widget_version.txt"), hash).expect("OUT_DIR is writable");

    let dashboard = std::env::var_os("DOTS_DASHBOARD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bundle.parent().expect("the bundle is inside the target directory").join("dashboard"));
    println!("cargo:rerun-if-env-changed=DOTS_DASHBOARD_DIR");
    let files = app_files(&manifest_dir, "dashboard/web", &dashboard, &DASHBOARD_FILES, &DASHBOARD_WEB_FILES);
    let hash = embed(&out, files.into_iter());
    std::fs::write(out.join("dashboard_version.txt"), hash).expect("OUT_DIR is writable");
}

/// A Wasm app's files: what wasm-bindgen left in `bundle` (empty when it was not
/// built) and the hand-written files of `web` (a path in the workspace).
fn app_files(
    manifest_dir: &std::path::Path,
    web: &str,
    bundle: &std::path::Path,
    bundle_files: &[&str],
    web_files: &[&str],
) -> Vec<(String, Vec<u8>)> {
    for name in web_files {
        println!("cargo:rerun-if-changed=../{web}/{name}");
    }
    for name in bundle_files {
        println!("cargo:rerun-if-changed={}", bundle.join(name).display());
    }
    let source = manifest_dir.join("..").join(web);
    let built =
        bundle_files.iter().map(|name| (name.to_string(), std::fs::read(bundle.join(name)).unwrap_or_default()));
    let written = web_files.iter().map(|name| (name.to_string(), web_file(&source, &bundle.join("web"), name)));
    built.chain(written).collect()
}

/// Writes each file, raw, brotli- and gzip-compressed, into `out`; answers the
/// version of them all (a hash, FNV-1a) that their URLs carry.
fn embed(out: &std::path::Path, files: impl Iterator<Item = (String, Vec<u8>)>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in files {
        for b in &bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        std::fs::write(out.join(&name), &bytes).expect("OUT_DIR is writable");
        std::fs::write(out.join(format!("{name}.br")), brotli(&bytes)).expect("OUT_DIR is writable");
        std::fs::write(out.join(format!("{name}.gz")), gzip(&bytes)).expect("OUT_DIR is writable");
    }
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

/// A hand-written file (of `widget/web/` or `dashboard/web/`), minified if `cargo
/// xtask widget` minified this very source (it leaves `<name>` and `<name>.source`
/// in `<bundle>/web/`), else as written.
fn web_file(web: &std::path::Path, minified: &std::path::Path, name: &str) -> Vec<u8> {
    println!("cargo:rerun-if-changed={}", minified.join(name).display());
    println!("cargo:rerun-if-changed={}", minified.join(format!("{name}.source")).display());
    let source = std::fs::read(web.join(name)).unwrap_or_default();
    match (std::fs::read(minified.join(format!("{name}.source"))), std::fs::read(minified.join(name))) {
        (Ok(from), Ok(small)) if from == source && !small.is_empty() => small,
        _ => source,
    }
}

/// A language as the widget reads it (`Words::from_list`): a JSON array of the tag,
/// then every message in the catalogue's order.
fn words_json(words: &words::Words) -> Vec<u8> {
    let mut json = String::from("[");
    for text in std::iter::once(words.lang()).chain(words.entries().into_iter().map(|(_, text)| text)) {
        if json.len() > 1 {
            json.push(',');
        }
        json.push('"');
        for c in text.chars() {
            match c {
                '"' => json.push_str("\\\""),
                '\\' => json.push_str("\\\\"),
                c if (c as u32) < 0x20 => json.push_str(&format!("\\u{:04x}", c as u32)),
                c => json.push(c),
            }
        }
        json.push('"');
    }
    json.push(']');
    json.into_bytes()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 4096, 11, 22);
        writer.write_all(bytes).expect("compressing into memory");
    }
    compressed
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut writer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    writer.write_all(bytes).expect("compressing into memory");
    writer.finish().expect("compressing into memory")
}
