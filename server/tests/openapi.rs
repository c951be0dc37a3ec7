//! The OpenAPI document covers the API: every `/v2` and `/flow/v1` route of the
//! router is an operation of the document with the same method, each answers its
//! errors in the error shape, each mutation takes an Idempotency-Key, and every
//! operation but opening a link's session names its credentials. (That the
//! answers match it is checked from outside: `cargo xtask schemathesis`.)

use axum::http::Method;
use dots_server::http::{openapi, routes};
use utoipa::openapi::path::Operation;

fn operation<'a>(doc: &'a utoipa::openapi::OpenApi, path: &str, method: &Method) -> Option<&'a Operation> {
    let item = doc.paths.paths.get(path)?;
    match *method {
        Method::GET => item.get.as_ref(),
        Method::POST => item.post.as_ref(),
        Method::PUT => item.put.as_ref(),
        Method::PATCH => item.patch.as_ref(),
        Method::DELETE => item.delete.as_ref(),
        _ => None,
    }
}

#[test]
fn every_api_route_is_in_the_document() {
    let doc = openapi::document();
    let mut missing = Vec::new();
    let mut api_routes = 0;
    for route in routes() {
        if !(route.path.starts_with("/v2/") || route.path.starts_with("/flow/v1/")) {
            continue;
        }
        api_routes += 1;
        let Some(op) = operation(&doc, route.path, &route.method) else {
            missing.push(format!("{} {}", route.method, route.path));
            continue;
        };
        let responses = &op.responses.responses;
        assert!(responses.contains_key("4XX") && responses.contains_key("5XX"), "{} {}", route.method, route.path);
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{} {} documents no success",
            route.method,
            route.path
        );
        let takes_key = op.parameters.iter().flatten().any(|p| p.name == "Idempotency-Key");
        assert_eq!(takes_key, route.method != Method::GET, "{} {}: Idempotency-Key", route.method, route.path);
        let anonymous = route.path == "/flow/v1/sessions";
        assert_eq!(op.security.is_none(), anonymous, "{} {}: credentials", route.method, route.path);
    }
    assert!(missing.is_empty(), "routes missing from /openapi.json: {missing:#?}");
    assert!(api_routes > 50, "the check saw the API ({api_routes} routes)");
    // And nothing in the document that the router does not answer.
    let served: Vec<(String, Method)> = routes().into_iter().map(|r| (r.path.to_string(), r.method)).collect();
    for (path, item) in &doc.paths.paths {
        for (method, present) in [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ] {
            if present {
                assert!(served.contains(&(path.clone(), method.clone())), "{method} {path} is documented, not routed");
            }
        }
    }
}

#[test]
fn the_document_is_openapi_3_1_json() {
    let json: serde_json::Value = serde_json::from_str(&openapi::document().to_json().unwrap()).unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    for scheme in ["app", "operator", "flow_session"] {
        assert!(json["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
    }
    assert!(json["components"]["schemas"]["ErrorBody"].is_object());
}
