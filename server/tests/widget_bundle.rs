//! The widget bundle is embedded in the server and served versioned and cacheable.
//! `cargo xtask test` builds the bundle before the server, so it must be there.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_widget_bundle_is_served_versioned() {
    let (url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let t = TestApp::start(&url).await;
    let manifest = t.call(Method::GET, "/widget/v1/manifest.json", None, &[], None).await;
    assert_eq!(manifest.status, StatusCode::OK, "build the bundle first (cargo xtask widget): {}", manifest.json);
    let (js, wasm) =
        (manifest.json["js"].as_str().unwrap().to_string(), manifest.json["wasm"].as_str().unwrap().to_string());
    let module = t.call(Method::GET, &js, None, &[], None).await;
    assert_eq!(module.status, StatusCode::OK);
    assert_eq!(module.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(module.headers["cache-control"].to_str().unwrap().contains("immutable"));
    let binary = t.call(Method::GET, &wasm, None, &[], None).await;
    assert_eq!((binary.status, binary.headers["content-type"].to_str().unwrap()), (StatusCode::OK, "application/wasm"));
    assert_eq!(&binary.bytes[..4], b"\0asm");
    let stale = t.call(Method::GET, "/widget/v1/000000000000/dots_widget.js", None, &[], None).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::NOT_FOUND, "widget_version_gone"));
    let frame = t.call(Method::GET, "/widget/v1/frame", None, &[], None).await;
    assert!(String::from_utf8_lossy(&frame.bytes).contains(&js));
    t.store.close().await;
    cleanup.run().await;
}
