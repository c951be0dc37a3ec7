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
    let web = manifest_dir.join("../widget/web");
    println!("cargo:rerun-if-env-changed=DOTS_WIDGET_DIR");
    for name in WEB_FILES {
        println!("cargo:rerun-if-changed=../widget/web/{name}");
    }
    // FNV-1a over every file: the version in the bundle's URLs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in BUNDLE_FILES {
        println!("cargo:rerun-if-changed={}", bundle.join(name).display());
    }
    let bundled =
        BUNDLE_FILES.iter().map(|name| (name.to_string(), std::fs::read(bundle.join(name)).unwrap_or_default()));
    let written = WEB_FILES.iter().map(|name| (name.to_string(), web_file(&web, &bundle.join("web"), name)));
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
    for (name, bytes) in bundled.chain(written).chain(languages) {
        for b in &bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        std::fs::write(out.join(&name), &bytes).expect("OUT_DIR is writable");
        std::fs::write(out.join(format!("{name}.br")), brotli(&bytes)).expect("OUT_DIR is writable");
        std::fs::write(out.join(format!("{name}.gz")), gzip(&bytes)).expect("OUT_DIR is writable");
    }
    std::fs::write(out.join("widget_version.txt"), format!("{:012x}", hash & 0xffff_ffff_ffff))
        .expect("OUT_DIR is writable");
}

/// A file of `widget/web/`, minified if `cargo xtask widget` minified this very
/// source (it leaves `<name>` and `<name>.source` in `<bundle>/web/`), else as written.
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
