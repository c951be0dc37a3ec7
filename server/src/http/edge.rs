//! The edge: the one place where every string from the outside — path, query,
//! headers, JSON body — is checked before anything below sees it.
//!
//! - **Path.** A segment that does not decode to UTF-8, holds a control character
//!   or is longer than [`MAX_SEGMENT_BYTES`] names nothing: it is replaced by
//!   [`NO_SUCH_SEGMENT`], so the route answers its usual 404 (an unknown id, or no
//!   such route) without the bytes reaching a handler or the database.
//! - **Query.** Invalid UTF-8 is `400 invalid_query`; a control character is
//!   `422 invalid_string` and a value over [`MAX_STRING_BYTES`] `422
//!   string_too_long`, naming the parameter.
//! - **Headers** the server reads ([`READ_HEADERS`]): invalid UTF-8 or over
//!   [`MAX_HEADER_BYTES`] is `400 invalid_header`, a control character (other
//!   than a tab) `422 invalid_string`.
//! - **Cross-site.** A `/v2` or `/dashboard/api` request a browser marks as coming from another site
//!   (`Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` that is not
//!   this server's public origin) is `403 cross_site_request`: API clients send
//!   neither header, and a page elsewhere must not use a browser's cached
//!   credentials, with or without a body.
//! - **JSON bodies** ([`parse_json`]): `application/json` only (`415
//!   unsupported_media_type`), duplicate keys refused (`422 duplicate_field`), and
//!   control characters in any key or string refused (`422 invalid_string`; no
//!   field takes line breaks today — the payout-link memo is one line of 200
//!   characters), and strings longer than [`MAX_STRING_BYTES`] refused (`422
//!   string_too_long`).

use dots_shared::ErrorCode;
use std::cell::RefCell;
use std::fmt;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::AppState;
use crate::error::Error;

/// Longer path segments name nothing we issue (ids are under 40 characters).
pub const MAX_SEGMENT_BYTES: usize = 256;
/// What an unusable path segment becomes: a string no id or route has.
pub const NO_SUCH_SEGMENT: &str = "~";
/// Longest value of a header we read (a Basic or Bearer credential is ~100 bytes).
pub const MAX_HEADER_BYTES: usize = 8192;
/// The request headers the server reads; each is checked here.
pub const READ_HEADERS: [&str; 8] = [
    "authorization",
    "idempotency-key",
    "content-type",
    "origin",
    "sec-fetch-site",
    "x-request-id",
    "x-forwarded-for",
    "forwarded",
];
/// No field of ours needs more (URLs, names, addresses, brand values).
pub const MAX_STRING_BYTES: usize = 4096;

/// The edge middleware: cleans the path, checks query and headers, refuses
/// cross-site `/v2` requests. Runs before routing.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(uri) = clean_path(req.uri()) {
        *req.uri_mut() = uri;
    }
    if let Err(e) = check_query(req.uri().query()) {
        return e.into_response();
    }
    if let Err(e) = check_headers(req.headers_mut()) {
        return e.into_response();
    }
    let path = req.uri().path();
    if (path.starts_with("/v2/") || path.starts_with("/dashboard/api/"))
        && let Err(e) = same_site_only(req.headers(), &state.services.public_url)
    {
        return e.into_response();
    }
    next.run(req).await
}

/// The request's URI with every unusable path segment replaced, or `None` when
/// every segment is fine.
pub fn clean_path(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let usable = |segment: &str| {
        segment.len() <= MAX_SEGMENT_BYTES
            && percent_decode_str(segment).decode_utf8().is_ok_and(|s| !s.chars().any(char::is_control))
    };
    if path.split('/').all(usable) {
        return None;
    }
    let cleaned: Vec<&str> =
        path.split('/').map(|segment| if usable(segment) { segment } else { NO_SUCH_SEGMENT }).collect();
    let mut path_and_query = cleaned.join("/");
    if let Some(query) = uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// Every name and value of the query decodes to UTF-8 without control characters.
pub fn check_query(query: Option<&str>) -> Result<(), Error> {
    let Some(query) = query else { return Ok(()) };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |raw: &str| percent_decode_str(&raw.replace('+', " ")).decode_utf8().map(|s| s.into_owned());
        let not_utf8 = || Error::new(ErrorCode::InvalidQuery, "The query string is not valid UTF-8.");
        let name = decode(name).map_err(|_| not_utf8())?;
        if name.chars().any(char::is_control) {
            return Err(Error::invalid(
                ErrorCode::InvalidString,
                "query",
                "A query parameter name holds a control character.",
            ));
        }
        let value = decode(value).map_err(|_| not_utf8().with_param(&name))?;
        if value.chars().any(char::is_control) {
            return Err(invalid_string(&name));
        }
        if value.len() > MAX_STRING_BYTES {
            return Err(too_long(&name));
        }
    }
    Ok(())
}

/// The headers the server reads are UTF-8 without control characters; a client's
/// `X-Request-Id` that is not a short visible token is dropped (we make our own).
pub fn check_headers(headers: &mut HeaderMap) -> Result<(), Error> {
    if let Some(id) = headers.get("x-request-id")
        && !(id.len() <= 64 && id.as_bytes().iter().all(u8::is_ascii_graphic))
    {
        headers.remove("x-request-id");
    }
    for name in READ_HEADERS {
        for value in headers.get_all(name) {
            if value.len() > MAX_HEADER_BYTES {
                return Err(
                    Error::new(ErrorCode::InvalidHeader, format!("The {name} header is too long.")).with_param(name)
                );
            }
            let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
                Error::new(ErrorCode::InvalidHeader, format!("The {name} header is not valid UTF-8.")).with_param(name)
            })?;
            if text.chars().any(|c| c.is_control() && c != '\t') {
                return Err(invalid_string(name));
            }
        }
    }
    Ok(())
}

/// Refuses a request a browser sent from another site (see the module docs).
pub fn same_site_only(headers: &HeaderMap, public_url: &str) -> Result<(), Error> {
    let refused = || {
        Error::new(
            ErrorCode::CrossSiteRequest,
            "This API takes requests from servers, not from pages on other sites; call it from your backend.",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.as_bytes() != origin_of(public_url).as_bytes()
    {
        return Err(refused());
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

fn too_long(param: &str) -> Error {
    Error::invalid(ErrorCode::StringTooLong, param, format!("{param} must be at most {MAX_STRING_BYTES} bytes."))
}

fn invalid_string(param: &str) -> Error {
    Error::invalid(
        ErrorCode::InvalidString,
        param,
        format!("{param} holds a control character (such as NUL or a line break)."),
    )
}

/// True for `application/json`, with or without parameters (`; charset=utf-8`).
pub fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Parses a JSON body strictly: one value, duplicate keys refused, control
/// characters and over-long strings refused in every key and string. Errors name
/// the field (`address.line1`, `items[2]`).
pub fn parse_json(bytes: &[u8]) -> Result<Value, Error> {
    let problem = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node { problem: &problem, path: String::new() }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|e| {
        problem
            .into_inner()
            .unwrap_or_else(|| Error::new(ErrorCode::InvalidJson, format!("The body is not valid JSON: {e}")))
    })
}

/// One value of the body being parsed, at `path`. A refusal is kept in
/// `problem`, with its field, and the parse stops.
struct Node<'a> {
    problem: &'a RefCell<Option<Error>>,
    path: String,
}

impl Node<'_> {
    fn child(&self, path: String) -> Node<'_> {
        Node { problem: self.problem, path }
    }

    fn refuse<E: de::Error>(&self, error: Error) -> E {
        let message = error.message.clone();
        *self.problem.borrow_mut() = Some(error);
        E::custom(message)
    }

    fn check_string<E: de::Error>(&self, s: &str) -> Result<(), E> {
        let param = if self.path.is_empty() { "body" } else { &self.path };
        if s.chars().any(char::is_control) {
            return Err(self.refuse(invalid_string(param)));
        }
        if s.len() > MAX_STRING_BYTES {
            return Err(self.refuse(too_long(param)));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // Finite in JSON; amounts are refused as non-integers further on.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.check_string(v)?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.check_string(&v)?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            self.check_string(&key)?;
            if object.contains_key(&key) {
                return Err(self.refuse(
                    Error::invalid(ErrorCode::DuplicateField, &path, format!("{path} is given twice."))
                        .with_param(&path),
                ));
            }
            let value = map.next_value_seed(self.child(path))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_refuses_duplicates_and_control_characters_naming_the_field() {
        let e = parse_json(br#"{"amount":1,"amount":5}"#).unwrap_err();
        assert_eq!((e.code.status(), e.code.as_str(), e.param.as_deref()), (422, "duplicate_field", Some("amount")));
        let e = parse_json(br#"{"address":{"line1":"1 A\u0000St"}}"#).unwrap_err();
        assert_eq!((e.code.as_str(), e.param.as_deref()), ("invalid_string", Some("address.line1")));
        let e = parse_json(br#"{"items":[{"a":1},{"a":1,"a":2}]}"#).unwrap_err();
        assert_eq!((e.code.as_str(), e.param.as_deref()), ("duplicate_field", Some("items[1].a")));
        let e = parse_json(br#"{"city":"X\u0007"}"#).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_string");
        let e = parse_json(b"{\"name\":\"a\xc2\x85b\"}").unwrap_err();
        assert_eq!((e.code.as_str(), e.param.as_deref()), ("invalid_string", Some("name")), "C1 control NEL");
        let e = parse_json(b"{\"name\":\"\xff\"}").unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_json");
        let e = parse_json(br#"{"a":1} {"a":2}"#).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_json");
        let e = parse_json(br#"{"memo":"line one\nline two"}"#).unwrap_err();
        assert_eq!((e.code.as_str(), e.param.as_deref()), ("invalid_string", Some("memo")));
        let long = format!(r#"{{"description":"{}"}}"#, "x".repeat(MAX_STRING_BYTES + 1));
        assert_eq!(parse_json(long.as_bytes()).unwrap_err().code.as_str(), "string_too_long");
        assert_eq!(parse_json(r#"{"name":"Zoë 🙂","n":[1,2.5,null,true]}"#.as_bytes()).unwrap()["n"][1], 2.5);
    }

    #[test]
    fn unusable_path_segments_become_a_segment_nothing_has() {
        let uri: Uri = "/v2/webhooks/%FF%FE/deliveries?limit=2".parse().unwrap();
        assert_eq!(clean_path(&uri).unwrap().to_string(), "/v2/webhooks/~/deliveries?limit=2");
        let uri: Uri = "/v2/users/usr_%00".parse().unwrap();
        assert_eq!(clean_path(&uri).unwrap().path(), "/v2/users/~");
        assert!(clean_path(&"/v2/users/usr_abc%20d".parse().unwrap()).is_none());
    }

    #[test]
    fn queries_are_utf8_without_control_characters() {
        assert!(check_query(Some("limit=2&starting_after=tr_x")).is_ok());
        assert_eq!(check_query(Some("starting_after=%00")).unwrap_err().param.as_deref(), Some("starting_after"));
        assert_eq!(check_query(Some("type=%FF")).unwrap_err().code.as_str(), "invalid_query");
        assert_eq!(check_query(Some("a=%C2%85")).unwrap_err().code.as_str(), "invalid_string");
    }

    #[test]
    fn only_this_servers_origin_is_same_site() {
        let mut h = HeaderMap::new();
        assert!(same_site_only(&h, "http://127.0.0.1:8080").is_ok());
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_site_only(&h, "http://127.0.0.1:8080/").is_ok());
        h.insert("origin", HeaderValue::from_static("https://evil.example"));
        assert_eq!(same_site_only(&h, "http://127.0.0.1:8080").unwrap_err().code.as_str(), "cross_site_request");
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert_eq!(same_site_only(&h, "http://127.0.0.1:8080").unwrap_err().code.status(), 403);
    }
}
