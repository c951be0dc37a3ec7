//! `metadata`: the app's own key-value notes on users, transfers, payout links and
//! flows (an order id, a driver number). A JSON object of strings, bounded: at most
//! [`MAX_KEYS`] keys of 1 to [`MAX_KEY_CHARS`] characters (letters, digits, `_`, `-`,
//! `.`) and values of at most [`MAX_VALUE_CHARS`] characters. Stored as JSON text;
//! lists filter on it with `metadata[key]=value`.

use std::collections::BTreeMap;

use dots_shared::ErrorCode;
use serde_json::Value;

use crate::error::Error;
use crate::store::Backend;

pub const MAX_KEYS: usize = 20;
pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_VALUE_CHARS: usize = 500;

pub type Metadata = BTreeMap<String, String>;

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidMetadata, "metadata", message)
}

/// A key as lists may name it in `metadata[key]`.
pub fn key_ok(key: &str) -> bool {
    !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A request's `metadata`: absent is empty; anything but a bounded object of
/// strings is `invalid_metadata`.
pub fn from_request(value: Option<&Value>) -> Result<Metadata, Error> {
    let Some(value) = value else { return Ok(Metadata::new()) };
    let Value::Object(map) = value else {
        return Err(invalid("metadata must be an object of strings"));
    };
    let mut out = Metadata::new();
    for (key, value) in map {
        let Value::String(text) = value else {
            return Err(invalid(format!("metadata.{key} must be a string")));
        };
        out.insert(key.clone(), text.clone());
    }
    check(&out)?;
    Ok(out)
}

fn check(metadata: &Metadata) -> Result<(), Error> {
    if metadata.len() > MAX_KEYS {
        return Err(invalid(format!("metadata holds at most {MAX_KEYS} keys")));
    }
    for (key, value) in metadata {
        if !key_ok(key) {
            return Err(invalid(format!("metadata keys are 1 to {MAX_KEY_CHARS} letters, digits, _, - or .")));
        }
        if value.chars().count() > MAX_VALUE_CHARS || value.chars().any(char::is_control) {
            return Err(invalid(format!("metadata.{key} must be at most {MAX_VALUE_CHARS} printable characters")));
        }
    }
    Ok(())
}

/// A change to stored metadata (`PATCH`): each key given is set; a key given as
/// `null` is removed. The result is bounded as a new one is.
pub fn changes(value: Option<&Value>) -> Result<Option<BTreeMap<String, Option<String>>>, Error> {
    let Some(value) = value else { return Ok(None) };
    let Value::Object(map) = value else {
        return Err(invalid("metadata must be an object of strings (null removes a key)"));
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let value = match value {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            _ => return Err(invalid(format!("metadata.{key} must be a string, or null to remove it"))),
        };
        out.insert(key.clone(), value);
    }
    Ok(Some(out))
}

/// `stored` with `changes` applied, checked.
pub fn merged(stored: &Metadata, changes: &BTreeMap<String, Option<String>>) -> Result<Metadata, Error> {
    let mut out = stored.clone();
    for (key, value) in changes {
        match value {
            Some(v) => out.insert(key.clone(), v.clone()),
            None => out.remove(key),
        };
    }
    check(&out)?;
    Ok(out)
}

pub fn to_text(metadata: &Metadata) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into())
}

/// Stored text back as metadata (unreadable text is none, and logged).
pub fn parse(text: &str) -> Metadata {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored metadata does not parse");
        Metadata::new()
    })
}

/// `metadata[key]=value` and `created_after`/`created_before` of a list's query.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub metadata: Vec<(String, String)>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
}

impl ListFilter {
    /// From a list's filters (already checked for names by `list_query`).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ListFilter, Error> {
        let mut filter = ListFilter::default();
        for (name, value) in pairs {
            let time = |v: &str| {
                dots_shared::time::parse_rfc3339_ms(v).ok_or_else(|| {
                    Error::invalid(ErrorCode::InvalidQuery, name, format!("{name} must be an RFC 3339 time"))
                })
            };
            match name.as_str() {
                "created_after" => filter.created_after = Some(time(value)?),
                "created_before" => filter.created_before = Some(time(value)?),
                other => {
                    if let Some(key) = other.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')) {
                        if !key_ok(key) {
                            return Err(Error::invalid(
                                ErrorCode::InvalidQuery,
                                other,
                                "metadata keys are 1 to 40 letters, digits, _, - or .",
                            ));
                        }
                        filter.metadata.push((key.to_string(), value.clone()));
                    }
                }
            }
        }
        Ok(filter)
    }

    /// ` AND …` clauses on table alias `t` (its `metadata` and `created_at`), with
    /// their arguments numbered from `$first`.
    pub fn sql(&self, backend: Backend, alias: &str, first: usize) -> (String, Vec<FilterArg>) {
        let mut sql = String::new();
        let mut args = Vec::new();
        let mut next = first;
        for (key, value) in &self.metadata {
            match backend {
                // The JSON path is an argument too: `$."key"` (keys are checked: no quotes).
                Backend::Sqlite => {
                    sql.push_str(&format!(" AND json_extract({alias}.metadata, ${next}) = ${}", next + 1));
                    args.push(FilterArg::Text(format!("$.\"{key}\"")));
                }
                Backend::Postgres => {
                    sql.push_str(&format!(" AND ({alias}.metadata::jsonb ->> ${next}) = ${}", next + 1));
                    args.push(FilterArg::Text(key.clone()));
                }
            }
            args.push(FilterArg::Text(value.clone()));
            next += 2;
        }
        if let Some(after) = self.created_after {
            sql.push_str(&format!(" AND {alias}.created_at > ${next}"));
            args.push(FilterArg::Int(after));
            next += 1;
        }
        if let Some(before) = self.created_before {
            sql.push_str(&format!(" AND {alias}.created_at < ${next}"));
            args.push(FilterArg::Int(before));
        }
        (sql, args)
    }
}

#[derive(Debug, Clone)]
pub enum FilterArg {
    Text(String),
    Int(i64),
}

/// Binds a filter's arguments to `query`, in order.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<FilterArg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            FilterArg::Text(s) => query.bind(s),
            FilterArg::Int(n) => query.bind(n),
        };
    }
    query
}

/// The list filters every list with metadata takes.
pub const FILTERS: [&str; 3] = ["metadata", "created_after", "created_before"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_is_a_bounded_map_of_strings() {
        assert_eq!(from_request(None).unwrap(), Metadata::new());
        let ok = from_request(Some(&json!({"order_id": "A-17", "driver.no": "9"}))).unwrap();
        assert_eq!(to_text(&ok), r#"{"driver.no":"9","order_id":"A-17"}"#);
        for bad in [
            json!("x"),
            json!({"n": 1}),
            json!({"bad key": "x"}),
            json!({"": "x"}),
            json!({"k": "x".repeat(501)}),
            json!({"k": "a\nb"}),
            json!({ "k".repeat(41): "x" }),
            Value::Object((0..21).map(|i| (format!("k{i}"), json!("v"))).collect()),
        ] {
            let e = from_request(Some(&bad)).unwrap_err();
            assert_eq!((e.code, e.param.as_deref()), (ErrorCode::InvalidMetadata, Some("metadata")), "{bad}");
        }
        let stored = ok;
        let change = changes(Some(&json!({"order_id": null, "new": "1"}))).unwrap().unwrap();
        assert_eq!(to_text(&merged(&stored, &change).unwrap()), r#"{"driver.no":"9","new":"1"}"#);
    }
}
