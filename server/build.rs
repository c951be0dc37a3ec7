//! Embeds the widget bundle (built by `cargo xtask widget` into `<target>/widget`,
//! or `$DOTS_WIDGET_DIR`) so the server needs no files at run time. Without a
//! bundle the server still builds; its widget routes then answer `widget_not_built`.

use std::path::PathBuf;

const FILES: [&str; 2] = ["dots_widget.js", "dots_widget_bg.wasm"];

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bundle = std::env::var_os("DOTS_WIDGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
        out.ancestors().nth(4).expect("OUT_DIR is inside the target directory").join("widget")
    });
    println!("cargo:rerun-if-env-changed=DOTS_WIDGET_DIR");
    // FNV-1a over both files: the version in the bundle's URLs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in FILES {
        let source = bundle.join(name);
        println!("cargo:rerun-if-changed={}", source.display());
        let bytes = std::fs::read(&source).unwrap_or_default();
        for b in &bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        std::fs::write(out.join(name), &bytes).expect("OUT_DIR is writable");
    }
    std::fs::write(out.join("widget_version.txt"), format!("{:012x}", hash & 0xffff_ffff_ffff))
        .expect("OUT_DIR is writable");
}
