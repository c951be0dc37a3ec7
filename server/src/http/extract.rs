//! Request extractors: who is calling (app or operator), the JSON body of a
//! mutation with its `Idempotency-Key`, and list queries. Every failure here is
//! a JSON error with a stable code, never a plain-text rejection.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dots_shared::ErrorCode;
use dots_shared::{TransferStatus, TransferType};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{AppState, edge};
use crate::apps::AuthedApp;
use crate::audit::{Actor, ActorKind, Audit};
use crate::error::{Error, Reply};
use crate::ledger::transfers::HistoryFilter;
use crate::lists::{MAX_LIMIT, Page};
use crate::writer::{Idempotency, Origin, open_replay, stored_reply};

/// Request bodies are small JSON objects; anything larger is refused unread.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A payout batch's body (1,000 items of up to a few hundred bytes each).
pub const MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An app authenticated by HTTP Basic `client_id:api_secret`.
pub struct AppAuth(pub AuthedApp);

impl FromRequestParts<AppState> for AppAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AppAuth, Error> {
        // A dashboard member acting for the app (session cookie, `Dots-App`), as
        // their role allows this route.
        let app = if parts.headers.get(header::AUTHORIZATION).is_none() && super::dashboard::has_session(&parts.headers)
        {
            super::dashboard::member_acting(parts, state).await?
        } else {
            Self::by_key(parts, state).await?
        };
        // A suspended app's key can do nothing; its members may still look.
        if app.suspended && (app.member.is_none() || !matches!(parts.method, Method::GET | Method::HEAD)) {
            return Err(crate::operator::app_suspended());
        }
        Ok(AppAuth(app))
    }
}

impl AppAuth {
    /// The app whose HTTP Basic credentials the request carries.
    async fn by_key(parts: &Parts, state: &AppState) -> Result<AuthedApp, Error> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            Error::new(ErrorCode::MissingCredentials, "Authenticate with HTTP Basic client_id:api_secret.")
        })?;
        let invalid = || Error::new(ErrorCode::InvalidCredentials, "The client id or API secret is wrong.");
        let value = header.to_str().map_err(|_| invalid())?;
        let (scheme, encoded) = value.split_once(' ').ok_or_else(invalid)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(invalid());
        }
        let decoded = BASE64.decode(encoded.trim()).map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (client_id, api_secret) = decoded.split_once(':').ok_or_else(invalid)?;
        // Credentials we issue are visible ASCII; anything else (a NUL, say) is
        // simply wrong, and never reaches the database.
        let visible = |s: &str| !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic());
        if !visible(client_id) || !visible(api_secret) {
            return Err(invalid());
        }
        state.credentials.authenticate(&state.store, client_id, api_secret).await
    }
}

/// A typed object id from the path (`Id<UserId>`), its shape checked here once: a
/// malformed id names no object, so it gets that object's usual 404
/// (`user_not_found`, …) before any database read.
pub struct Id<T>(pub T);

/// An id type a path may hold, and how "no such object" reads for it.
pub trait PathId: Sized + Send {
    fn parse(raw: &str) -> Option<Self>;
    fn not_found() -> Error;
}

macro_rules! path_ids {
    ($($ty:ident => $not_found:expr,)*) => {$(
        impl PathId for dots_shared::ids::$ty {
            fn parse(raw: &str) -> Option<Self> {
                dots_shared::ids::$ty::parse(raw)
            }

            fn not_found() -> Error {
                $not_found
            }
        }
    )*};
}

path_ids! {
    AppId => crate::apps::not_found(),
    AchFileId => crate::ach_rail::file_not_found(),
    UserId => crate::payees::users::not_found(),
    TransferId => crate::ledger::transfers::not_found(),
    TransactionId => crate::ledger::transfers::transaction_not_found(),
    PayoutLinkId => crate::flows::link_not_found(),
    PayoutBatchId => crate::batches::not_found(),
    PayoutMethodId => crate::payees::payout_methods::not_found(),
    WebhookId => crate::webhooks::endpoint_not_found(),
    EventId => crate::webhooks::event_not_found(),
    FlowId => crate::flows::flow_not_found(),
}

impl<S: Send + Sync, T: PathId> FromRequestParts<S> for Id<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Id<T>, Error> {
        let raw: Option<String> = path_ids(parts, state).await;
        raw.as_deref().and_then(T::parse).map(Id).ok_or_else(T::not_found)
    }
}

/// Two typed ids from the path (`/v2/users/{id}/payout-methods/{pm}`), each checked
/// like [`Id`]: the first's 404 before the second's.
pub struct Ids<A, B>(pub A, pub B);

impl<S: Send + Sync, A: PathId, B: PathId> FromRequestParts<S> for Ids<A, B> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ids<A, B>, Error> {
        let (first, second): (String, String) = path_ids(parts, state).await.ok_or_else(A::not_found)?;
        let first = A::parse(&first).ok_or_else(A::not_found)?;
        Ok(Ids(first, B::parse(&second).ok_or_else(B::not_found)?))
    }
}

/// The path's ids, or `None` when they cannot even be decoded (the callers answer
/// that object's 404).
async fn path_ids<T: DeserializeOwned + Send, S: Send + Sync>(parts: &mut Parts, state: &S) -> Option<T> {
    axum::extract::Path::<T>::from_request_parts(parts, state).await.ok().map(|axum::extract::Path(ids)| ids)
}

/// The operator, authenticated by `Authorization: Bearer $DOTS_OPERATOR_KEY`.
pub struct OperatorAuth;

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<OperatorAuth, Error> {
        let Some(key) = &state.operator_key else {
            return Err(Error::new(
                ErrorCode::OperatorApiDisabled,
                "The operator API is off: start the server with DOTS_OPERATOR_KEY set.",
            ));
        };
        // Signed in to the operator console (its cookie, its CSRF token on changes).
        if super::operator::signed_in(parts, state).await?.is_some() {
            return Ok(OperatorAuth);
        }
        let offered = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Error::new(ErrorCode::MissingCredentials, "Send Authorization: Bearer <operator key>."))?;
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| crate::clients::client_key(info.0.ip(), &parts.headers, &state.services.trusted_proxies))
            .unwrap_or_default();
        key.check(offered.trim(), &client, crate::store::now_ms())?;
        Ok(OperatorAuth)
    }
}

/// The body of an action that takes no fields: empty, or `{}`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// Whoever owns the idempotency keys of a request.
pub trait Principal: FromRequestParts<AppState, Rejection = Error> + Send {
    fn owner(&self) -> String;
    /// Who the audit log says made a change.
    fn actor(&self) -> Actor;
}

impl Principal for AppAuth {
    fn owner(&self) -> String {
        match &self.0.member {
            // A member's Idempotency-Keys are their own, not the app's server's.
            Some(member) => format!("{}:{member}", self.0.id),
            None => self.0.id.clone(),
        }
    }

    fn actor(&self) -> Actor {
        match &self.0.member {
            Some(member) => Actor { app_id: Some(self.0.id.clone()), kind: ActorKind::Member, id: member.clone() },
            None => Actor { app_id: Some(self.0.id.clone()), kind: ActorKind::ApiKey, id: self.0.client_id.clone() },
        }
    }
}

impl Principal for OperatorAuth {
    fn owner(&self) -> String {
        "operator".to_string()
    }

    fn actor(&self) -> Actor {
        Actor { app_id: None, kind: ActorKind::Operator, id: "operator".into() }
    }
}

/// A mutating request: caller, optional `Idempotency-Key`, and a JSON body that
/// must be an object with exactly the fields of `T`. A request that repeats a
/// known key is answered here, from the stored response, before any validation.
pub struct Mutation<P, T> {
    pub caller: P,
    /// Its Idempotency-Key and who made it (the audit log), for the writer.
    pub origin: Origin,
    pub body: T,
}

impl<P: Principal, T: DeserializeOwned> FromRequest<AppState> for Mutation<P, T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        Mutation::read(req, state, true, MAX_BODY_BYTES).await
    }
}

/// A [`Mutation`] whose body may be as large as a payout batch's.
pub struct BatchMutation<P, T>(pub Mutation<P, T>);

impl<P: Principal, T: DeserializeOwned> FromRequest<AppState> for BatchMutation<P, T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        Mutation::read(req, state, true, MAX_BATCH_BODY_BYTES).await.map(BatchMutation)
    }
}

/// A [`Mutation`] of the ledger's hot path (refills, transfers, payouts), whose
/// validation reads nothing: a known key is replayed by the writer when it claims
/// the key, not here, which saves a database read per request.
pub struct LedgerMutation<P, T>(pub Mutation<P, T>);

impl<P: Principal, T: DeserializeOwned> FromRequest<AppState> for LedgerMutation<P, T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        Mutation::read(req, state, false, MAX_BODY_BYTES).await.map(LedgerMutation)
    }
}

impl<P: Principal, T: DeserializeOwned> Mutation<P, T> {
    /// Reads caller, key and body; with `replay_here`, a known key is answered
    /// now from its stored response.
    async fn read(req: Request, state: &AppState, replay_here: bool, max_bytes: usize) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let caller = P::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let key = idempotency_key(&parts.headers).map_err(IntoResponse::into_response)?;
        let limits = &state.services.limits;
        let read = tokio::time::timeout(limits.body_timeout(), axum::body::to_bytes(body, max_bytes)).await;
        let bytes = match read {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if is_too_large(&e) => {
                return Err(Error::new(
                    ErrorCode::BodyTooLarge,
                    format!("The body must be at most {max_bytes} bytes."),
                )
                .into_response());
            }
            Ok(Err(_)) | Err(_) => {
                return Err(Error::new(
                    ErrorCode::BodyTimeout,
                    "The request body did not arrive in time; send it whole and promptly.",
                )
                .into_response());
            }
        };
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else if !edge::is_json(parts.headers.get(header::CONTENT_TYPE)) {
            return Err(Error::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON with Content-Type: application/json.",
            )
            .into_response());
        } else {
            edge::parse_json(&bytes).map_err(IntoResponse::into_response)?
        };
        let idempotency = key.map(|key| Idempotency {
            owner: caller.owner(),
            key,
            fingerprint: fingerprint(&parts.method, parts.uri.path(), &value),
        });
        if replay_here
            && let Some(idem) = &idempotency
            && let Some(reply) = earlier_reply(state, idem).await.map_err(IntoResponse::into_response)?
        {
            return Err(reply.into_response());
        }
        let refused = match parse_body(value) {
            Ok(body) => {
                let audit = Some(audit(&parts, state, caller.actor()));
                return Ok(Mutation { caller, origin: Origin { idempotency, audit }, body });
            }
            Err(refused) => refused,
        };
        if replay_here {
            // The key was looked up above already: the refusal is the answer.
            return Err(refused.into_response());
        }
        Err(replay_or(state, idempotency.as_ref(), refused).await.into_response())
    }
}

/// What the audit log records of a request: its actor, route, path, address and id.
fn audit(parts: &Parts, state: &AppState, actor: Actor) -> Audit {
    let route = parts.extensions.get::<axum::extract::MatchedPath>().map_or(parts.uri.path(), |p| p.as_str());
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip());
    let ip = peer
        .map(|peer| crate::clients::client_address(peer, &parts.headers, &state.services.trusted_proxies).to_string());
    let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    Audit { actor, action: format!("{} {route}", parts.method), path: parts.uri.path().to_string(), ip, request_id }
}

/// A request refused before it reached the writer: if its key was answered
/// before, that answer (a key's answer comes before any validation); otherwise
/// the refusal.
pub async fn replay_or(state: &AppState, idempotency: Option<&Idempotency>, refused: Error) -> Result<Reply, Error> {
    match idempotency {
        Some(idem) => match earlier_reply(state, idem).await? {
            Some(reply) => Ok(reply),
            None => Err(refused),
        },
        None => Err(refused),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_string())),
        None => Err(Error::new(
            ErrorCode::InvalidIdempotencyKey,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters."),
        )),
    }
}

/// serde_json's maps are sorted, so the same JSON object always hashes the same.
fn fingerprint(method: &Method, path: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    serde_json::to_writer(HashWriter(&mut hasher), body).expect("a JSON value serialises");
    crate::secrets::hex(&hasher.finalize())
}

/// Feeds what is written to a hash, so a body's canonical JSON is hashed without
/// being built as a string first.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn earlier_reply(state: &AppState, idem: &Idempotency) -> Result<Option<Reply>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    let row = sqlx::query(
        "SELECT fingerprint, status_code, body FROM idempotency_keys WHERE owner = $1 AND key = $2 AND status_code > 0",
    )
    .bind(&idem.owner)
    .bind(&idem.key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let body = open_replay(&state.services.keys, idem, row.try_get("body")?)?;
    Ok(Some(stored_reply(&idem.fingerprint, row.try_get("fingerprint")?, row.try_get("status_code")?, body)))
}

/// True when a body read stopped at [`MAX_BODY_BYTES`] (not a slow or broken client).
fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Deserialises a JSON object into `T`, naming the offending field on failure.
pub fn parse_body<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    if !value.is_object() {
        return Err(Error::new(ErrorCode::InvalidBody, "The body must be a JSON object."));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        let quoted = message.split('`').nth(1).map(str::to_string);
        let path = e.path().to_string();
        if message.starts_with("unknown field") {
            let field = quoted.unwrap_or_default();
            Error::new(ErrorCode::UnknownField, format!("Unknown field {field}.")).with_param(&field)
        } else if message.starts_with("missing field") {
            let field = quoted.unwrap_or_default();
            Error::new(ErrorCode::BodyMissingField, format!("Missing field {field}.")).with_param(&field)
        } else {
            Error::new(ErrorCode::BodyInvalidField, format!("{path}: {message}")).with_param(&path)
        }
    })
}

/// A list request: its page and the filters it named.
pub struct ListQuery {
    pub page: Page,
    filters: Vec<(String, String)>,
}

impl ListQuery {
    /// `metadata[key]=value`, `created_after`, `created_before`.
    pub fn metadata(&self) -> Result<crate::metadata::ListFilter, Error> {
        crate::metadata::ListFilter::from_pairs(&self.filters)
    }

    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The filters of transfer and transaction history.
    pub fn history(&self) -> Result<HistoryFilter, Error> {
        let bad =
            |name: &str, what: &str| Error::new(ErrorCode::InvalidQuery, format!("{name} {what}")).with_param(name);
        Ok(HistoryFilter {
            user_id: self.filter("user_id").map(str::to_string),
            transfer_id: self.filter("transfer_id").map(str::to_string),
            status: self
                .filter("status")
                .map(|v| TransferStatus::parse(v).ok_or_else(|| bad("status", "is not a transfer status.")))
                .transpose()?,
            kind: self
                .filter("type")
                .map(|v| TransferType::parse(v).ok_or_else(|| bad("type", "is not a transfer type.")))
                .transpose()?,
            list: self.metadata()?,
        })
    }
}

/// Parses `?limit=&starting_after=` and the filters this list accepts. Unknown
/// or repeated parameters are refused rather than silently ignored.
pub fn list_query(raw: Option<&str>, allowed_filters: &[&str]) -> Result<ListQuery, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Error::new(ErrorCode::InvalidQuery, "The query string is malformed."))?;
    let mut page = Page::default();
    let mut filters = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &pairs {
        if seen.contains(&name.as_str()) {
            return Err(Error::new(ErrorCode::InvalidQuery, format!("{name} is given twice.")).with_param(name));
        }
        seen.push(name);
        match name.as_str() {
            "limit" => {
                let limit = value.parse::<i64>().ok().filter(|l| (1..=MAX_LIMIT).contains(l));
                page.limit = Some(limit.ok_or_else(|| {
                    Error::new(ErrorCode::InvalidQuery, format!("limit must be a whole number from 1 to {MAX_LIMIT}."))
                        .with_param("limit")
                })?);
            }
            "starting_after" => page.starting_after = Some(value.clone()),
            other if allowed_filters.contains(&other) => filters.push((name.clone(), value.clone())),
            other if other.starts_with("metadata[") && allowed_filters.contains(&"metadata") => {
                filters.push((name.clone(), value.clone()))
            }
            other => {
                return Err(Error::new(ErrorCode::UnknownParameter, format!("Unknown query parameter {other}."))
                    .with_param(other));
            }
        }
    }
    Ok(ListQuery { page, filters })
}
