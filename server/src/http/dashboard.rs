//! The dashboard's sign-in (`crate::members`): invitations (made by the operator),
//! accepting one, signing in and out, and the session a signed-in browser holds —
//! an HttpOnly, SameSite=Strict cookie, with `X-CSRF-Token` and a same-origin
//! `Origin` on every change it makes.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dots_shared::ErrorCode;
use dots_shared::api::{DashboardSession, Invitation, Member};
use dots_shared::ids::AppId;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::extract::{AppAuth, Id, Mutation, NoFields, OperatorAuth, Principal};
use super::flow_api::Anonymous;
use super::{AppState, Routes, ok};
use crate::audit::{Actor, ActorKind};
use crate::error::{Error, Reply};
use crate::members::{self, NewInvitation};
use crate::store::now_ms;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/v2/apps/{id}/invitations", invite)
        .post("/dashboard/api/invitations/accept", accept)
        .post("/dashboard/api/sign-in", sign_in)
        .get("/dashboard/api/session", session)
        .post("/dashboard/api/sign-out", sign_out)
        .post("/dashboard/api/password-reset", request_reset)
        .post("/dashboard/api/password-reset/confirm", confirm_reset)
        .post("/dashboard/api/two-factor", start_two_factor)
        .post("/dashboard/api/two-factor/confirm", confirm_two_factor)
        .get("/v2/members", team)
        .post("/v2/members/invitations", invite_member)
        .put("/v2/members/{id}", change_role)
        .delete("/v2/members/{id}", remove_member)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    invite,
    accept,
    sign_in,
    session,
    sign_out,
    request_reset,
    confirm_reset,
    start_two_factor,
    confirm_two_factor,
    team,
    invite_member,
    change_role,
    remove_member
))]
pub(super) struct Doc;

/// A signed-in member, from the session cookie. A change (any method but GET and
/// HEAD) must also come from this server's own pages: a same-origin `Origin` (or
/// `Sec-Fetch-Site`) and the session's `X-CSRF-Token`.
pub struct MemberAuth {
    pub signed_in: members::SignedIn,
    token: String,
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_string())
    })
}

/// The dashboard session token the request's cookie carries.
pub(super) fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, members::SESSION_COOKIE)
}

/// Whether the request carries a dashboard session cookie.
pub(super) fn has_session(headers: &HeaderMap) -> bool {
    cookie(headers, members::SESSION_COOKIE).is_some()
}

/// The app a signed-in member acts for (`Dots-App: app_…`), if they belong to its
/// team and their role may call this route (`members::role_needed`): the server
/// decides, whatever the page shows.
pub(super) async fn member_acting(parts: &mut Parts, state: &AppState) -> Result<crate::apps::AuthedApp, Error> {
    let auth = MemberAuth::from_request_parts(parts, state).await?;
    let app_id = named_app(parts);
    if app_id.is_empty() {
        return Err(Error::new(ErrorCode::NotAMember, "Name the app you act for in the Dots-App header."));
    }
    let mut conn = state.store.reader().acquire().await?;
    let (app, role, two_factor) = members::acting_in(&mut conn, &auth.signed_in.member_id, &app_id).await?;
    let route = parts.extensions.get::<axum::extract::MatchedPath>().map_or(parts.uri.path(), |p| p.as_str());
    let needed = members::role_needed(parts.method.as_str(), route);
    if !members::role_allows(&role, needed) {
        return Err(Error::new(
            ErrorCode::InsufficientRole,
            format!("Your role in this app ({role}) may not do this; it needs {needed} or above."),
        ));
    }
    // Owners and admins can move money: their changes need two-factor sign-in on.
    if needed != "viewer" && members::TWO_FACTOR_ROLES.contains(&role.as_str()) && !two_factor {
        return Err(Error::new(
            ErrorCode::TwoFactorSetupRequired,
            "Turn on two-factor sign-in (POST /dashboard/api/two-factor) before making changes as an owner or admin.",
        ));
    }
    Ok(app)
}

/// The app a member's request names: `Dots-App`, or, for what a browser opens
/// without headers of its own (the event stream's `EventSource`, a download
/// link), `?app=`.
fn named_app(parts: &Parts) -> String {
    let header = parts.headers.get("dots-app").and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
    if !header.is_empty() || !NAMED_IN_QUERY.contains(&parts.uri.path()) || parts.method != Method::GET {
        return header.to_string();
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == "app").map(|(_, v)| v.trim().to_string()).unwrap_or_default()
}

/// Where a member names the app in the query.
const NAMED_IN_QUERY: [&str; 3] = ["/v2/events/stream", "/v2/exports/transfers.csv", "/v2/exports/transactions.csv"];

impl FromRequestParts<AppState> for MemberAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<MemberAuth, Error> {
        let not_signed_in = || Error::new(ErrorCode::NotSignedIn, "Sign in to the dashboard.");
        let token = cookie(&parts.headers, members::SESSION_COOKIE).ok_or_else(not_signed_in)?;
        if !plausible_token(&token) {
            return Err(not_signed_in());
        }
        csrf_checked(parts, &token)?;
        let now = now_ms();
        let mut conn = state.store.reader().acquire().await?;
        let signed_in = members::session(&mut conn, &token, now).await?;
        drop(conn);
        if signed_in.stale {
            touch(state, members::Sessions::Member, &signed_in.session_id).await?;
        }
        Ok(MemberAuth { signed_in, token })
    }
}

/// Writes a session's use (its idle limit starts again).
pub(super) async fn touch(state: &AppState, sessions: members::Sessions, session_id: &str) -> Result<(), Error> {
    state
        .writer
        .run(Default::default(), (sessions, session_id.to_string()), |conn, (sessions, id), now| {
            Box::pin(async move {
                members::touch(conn, *sessions, id, now).await?;
                ok(StatusCode::OK, &())
            })
        })
        .await?;
    Ok(())
}

/// Ends a session (signing out): the answer tells the browser to forget `cookie`.
pub(super) async fn end_session(
    state: &AppState,
    origin: crate::writer::Origin,
    sessions: members::Sessions,
    session_id: &str,
    cookie: &str,
) -> Result<Response, Error> {
    let reply = state
        .writer
        .run(origin.without_key(), (sessions, session_id.to_string()), |conn, (sessions, id), now| {
            Box::pin(async move {
                members::sign_out(conn, *sessions, id, now).await?;
                ok(StatusCode::OK, &serde_json::json!({"signed_out": true}))
            })
        })
        .await?;
    let mut response = reply.into_response();
    response.headers_mut().insert(header::SET_COOKIE, named_cookie(state, cookie, "", 0));
    Ok(response)
}

/// A session cookie's value as we issue them (`members::new_token`): anything
/// else opens nothing.
pub(super) fn plausible_token(token: &str) -> bool {
    token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && token.len() <= 64
}

/// A change (any method but GET and HEAD) made with a session cookie must carry
/// the session's `X-CSRF-Token`. (Cross-site requests were refused at the edge,
/// for every dashboard and API path.)
pub(super) fn csrf_checked(parts: &Parts, token: &str) -> Result<(), Error> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let offered = parts.headers.get("x-csrf-token").map(HeaderValue::as_bytes).unwrap_or_default();
    if !bool::from(offered.ct_eq(members::csrf_token(token).as_bytes())) {
        return Err(Error::new(
            ErrorCode::CsrfTokenInvalid,
            "A change needs the session's X-CSRF-Token (from the session's GET).",
        ));
    }
    Ok(())
}

impl Principal for MemberAuth {
    fn owner(&self) -> String {
        format!("member:{}", self.signed_in.member_id)
    }

    fn actor(&self) -> Actor {
        Actor { app_id: None, kind: ActorKind::Member, id: self.signed_in.member_id.clone() }
    }
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure when served over HTTPS.
fn session_cookie(state: &AppState, value: &str, max_age_s: i64) -> HeaderValue {
    named_cookie(state, members::SESSION_COOKIE, value, max_age_s)
}

/// A session cookie named `name` (a member's or the operator's).
pub(super) fn named_cookie(state: &AppState, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = if state.services.public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&cookie).expect("a cookie of visible ASCII")
}

/// Whether `password` is the one `hash` was made from, checked on a blocking thread
/// (argon2 is slow on purpose).
async fn verified(hash: String, password: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || members::verify_password(&hash, &password)).await.map_err(Error::internal)
}

/// `password`'s argon2id hash, made on a blocking thread.
async fn hashed(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || members::hash_password(&password)).await.map_err(Error::internal)
}

/// An anonymous call's change, made as the member `id` it proved to be. Without its
/// Idempotency-Key: anonymous callers share no key space.
fn by_member(origin: crate::writer::Origin, app_id: Option<String>, id: &str) -> crate::writer::Origin {
    let mut origin = origin.without_key();
    if let Some(audit) = &mut origin.audit {
        audit.actor = Actor { app_id, kind: ActorKind::Member, id: id.to_string() };
    }
    origin
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `owner`, `admin`, `reviewer` or `viewer`.
    pub role: String,
}

/// Operator: invites `email` to the app's team with `role` — the way an app's first
/// owner is made. The answer's `url` is the single-use link (7 days), shown once.
#[utoipa::path(post, path = "/v2/apps/{id}/invitations", tag = "Dashboard", request_body = InviteRequest, params(("id" = String, Path, description = "An app id (app_…).")), responses((status = 201, description = "The invitation, with its link (shown once).", body = Invitation)))]
async fn invite(
    State(state): State<AppState>,
    Id(app_id): Id<AppId>,
    m: Mutation<OperatorAuth, InviteRequest>,
) -> Result<Reply, Error> {
    let invitation = NewInvitation {
        app_id: app_id.to_string(),
        email: members::normalize_email(&m.body.email)?,
        role: members::parse_role(&m.body.role)?,
        invited_by: "operator".into(),
        token: members::new_token("dmi_"),
    };
    let args = (state.services.clone(), invitation);
    state
        .writer
        .run(m.origin.on_app(&app_id.to_string()), args, |conn, (services, invitation), now| {
            Box::pin(async move {
                let made = members::invite(conn, &services.public_url, invitation, now).await?;
                Ok(Reply::once(StatusCode::CREATED, &made, &Invitation { url: None, ..made.clone() })?)
            })
        })
        .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The token of the invitation's link (after `#`).
    pub token: String,
    /// The new account's password (12 to 128 characters), or the existing
    /// account's, to prove it.
    pub password: String,
}

/// Accepts an invitation: makes the account (or proves the existing one's
/// password) and joins the app with the invited role.
#[utoipa::path(post, path = "/dashboard/api/invitations/accept", tag = "Dashboard", request_body = AcceptRequest, responses((status = 201, description = "The member, with their memberships.", body = Member)))]
async fn accept(State(state): State<AppState>, m: Mutation<Anonymous, AcceptRequest>) -> Result<Reply, Error> {
    let token = m.body.token.trim().to_string();
    let mut conn = state.store.reader().acquire().await?;
    let open = members::open_invitation(&mut conn, &token, now_ms()).await?;
    drop(conn);
    let password = m.body.password;
    let new_hash = match open.account {
        Some((_, hash)) => {
            if !verified(hash, password).await? {
                return Err(Error::new(ErrorCode::SignInFailed, "That is not this account's password."));
            }
            None
        }
        None => {
            members::check_password(&password, &open.email)?;
            Some(hashed(password).await?)
        }
    };
    // Who: the invitation's holder (the account may not exist yet); the app's log shows it.
    let origin = by_member(m.origin, Some(open.app_id.clone()), &open.id);
    state
        .writer
        .run(origin, (token, new_hash), |conn, (token, hash), now| {
            Box::pin(async move { ok(StatusCode::CREATED, &members::accept(conn, token, hash.as_deref(), now).await?) })
        })
        .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    /// The authenticator's 6-digit code, or a recovery code, once two-factor
    /// sign-in is on.
    #[serde(default)]
    pub code: Option<String>,
}

/// Signs in: the session cookie is set, and the answer carries the CSRF token its
/// changes need. Five wrong passwords in a row lock the account for 15 minutes.
#[utoipa::path(post, path = "/dashboard/api/sign-in", tag = "Dashboard", request_body = SignInRequest, responses((status = 200, description = "Signed in: the member, their memberships and the session's CSRF token; the session cookie is set.", body = DashboardSession)))]
async fn sign_in(State(state): State<AppState>, m: Mutation<Anonymous, SignInRequest>) -> Result<Response, Error> {
    let failed = || Error::new(ErrorCode::SignInFailed, "The email or password is wrong.");
    let limit = (members::SIGN_INS_PER_CLIENT, members::SIGN_IN_WINDOW_MS);
    if let Some(refused) = per_client(&state, &m.origin, "sign-in", limit.0, limit.1).await? {
        return Ok(refused.into_response());
    }
    let email = members::normalize_email(&m.body.email).map_err(|_| failed())?;
    let mut conn = state.store.reader().acquire().await?;
    let account = members::account(&mut conn, &email).await?;
    drop(conn);
    let now = now_ms();
    if let Some(until) = account.as_ref().and_then(|a| a.locked_until).filter(|until| *until > now) {
        return Err(members::locked(until, now));
    }
    // An unknown email costs the same hashing as a wrong password.
    let hash = account.as_ref().map_or_else(|| members::decoy_hash().to_string(), |a| a.password_hash.clone());
    let password = m.body.password;
    let right = verified(hash, password).await?;
    let Some(account) = account else { return Err(failed()) };
    // The second factor, once the password is right.
    let mut factor = members::SecondFactor::None;
    let mut right = right;
    if right && let Some(sealed) = &account.two_factor {
        let secret = members::open_totp(&state.services.keys, &account.id, sealed)?;
        let Some(code) = m.body.code.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(Error::new(
                ErrorCode::TwoFactorCodeRequired,
                "Enter the code from your authenticator app (or a recovery code).",
            )
            .with_param("code"));
        };
        factor = members::second_factor(&secret, code, now);
        if let members::SecondFactor::Recovery(hash) = &factor {
            let mut conn = state.store.reader().acquire().await?;
            right = members::has_recovery_code(&mut conn, &account.id, hash).await?;
        }
    }
    if !right {
        let locked = state
            .writer
            .run(Default::default(), account.id.clone(), |conn, id, now| {
                Box::pin(async move { ok(StatusCode::OK, &members::count_failure(conn, id, now).await?) })
            })
            .await?;
        return Err(match locked.body.as_slice() {
            b"true" => members::locked(now + members::LOCK_MS, now),
            _ => failed(),
        });
    }
    let token = members::new_token("dms_");
    let origin = by_member(m.origin, None, &account.id);
    let reply = state
        .writer
        .run(origin, (account.id, token.clone(), factor), |conn, (id, token, factor), now| {
            Box::pin(async move { ok(StatusCode::OK, &members::start_session(conn, id, token, factor, now).await?) })
        })
        .await?;
    let mut response = reply.into_response();
    if response.status().is_success() {
        let cookie = session_cookie(&state, &token, members::SESSION_ABSOLUTE_MS / 1000);
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Counts a try from the request's client address (when it is known) under
/// `what`: past `max` in `window_ms`, the refusal (429 `rate_limited`) to answer,
/// whatever the account.
pub(super) async fn per_client(
    state: &AppState,
    origin: &crate::writer::Origin,
    what: &str,
    max: i64,
    window_ms: i64,
) -> Result<Option<Reply>, Error> {
    let Some(ip) = origin.audit.as_ref().and_then(|a| a.ip.clone()) else { return Ok(None) };
    let key = format!("{what}-client:{ip}");
    let counted = state
        .writer
        .run(Default::default(), key, move |conn, key, now| {
            Box::pin(async move {
                crate::limits::rate_limit(conn, key, window_ms, max, now).await?;
                ok(StatusCode::OK, &())
            })
        })
        .await?;
    Ok((!counted.status.is_success()).then_some(counted))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Asks for a link to choose a new password: emailed to the account's address if
/// there is an account (the answer is the same either way), working once, for an hour.
#[utoipa::path(post, path = "/dashboard/api/password-reset", tag = "Dashboard", request_body = ResetRequest, responses((status = 202, description = "If the email has an account, the link is on its way.")))]
async fn request_reset(State(state): State<AppState>, m: Mutation<Anonymous, ResetRequest>) -> Result<Response, Error> {
    let email = members::normalize_email(&m.body.email)?;
    if let Some(refused) =
        per_client(&state, &m.origin, "password-reset", members::RESETS_PER_HOUR * 2, 3_600_000).await?
    {
        return Ok(refused.into_response());
    }
    let token = members::new_token("dmr_");
    let args = (state.services.public_url.clone(), email.clone(), token);
    let made = state
        .writer
        .run(m.origin.without_key(), args, |conn, (public_url, email, token), now| {
            Box::pin(
                async move { ok(StatusCode::OK, &members::start_reset(conn, public_url, email, token, now).await?) },
            )
        })
        .await?;
    // Too many links for one account answers as any other: nothing tells whether it exists.
    let link: Option<String> = match made.status {
        StatusCode::OK => serde_json::from_slice(&made.body).map_err(Error::internal)?,
        _ => None,
    };
    if let Some(link) = link {
        let sender = state.services.email.clone();
        // Sent after answering, so that the answer takes as long with an account as without.
        tokio::spawn(async move {
            if let Err(e) = sender.send(&members::reset_email(&email, &link)).await {
                tracing::warn!(error = %e, "a password reset could not be emailed");
            }
        });
    }
    let answer = serde_json::json!({"sent": true});
    Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmResetRequest {
    /// The token of the reset link (after `#`).
    pub token: String,
    /// The new password (12 to 128 characters).
    pub password: String,
}

/// Chooses a new password with a reset link: the account is unlocked and every
/// session it had is signed out.
#[utoipa::path(post, path = "/dashboard/api/password-reset/confirm", tag = "Dashboard", request_body = ConfirmResetRequest, responses((status = 200, description = "The password is changed.")))]
async fn confirm_reset(
    State(state): State<AppState>,
    m: Mutation<Anonymous, ConfirmResetRequest>,
) -> Result<Reply, Error> {
    let token = m.body.token.trim().to_string();
    let mut conn = state.store.reader().acquire().await?;
    let (member_id, email) = members::open_reset(&mut conn, &token, now_ms()).await?;
    drop(conn);
    members::check_password(&m.body.password, &email)?;
    let hash = hashed(m.body.password).await?;
    let origin = by_member(m.origin, None, &member_id);
    state
        .writer
        .run(origin, (token, hash), |conn, (token, hash), now| {
            Box::pin(async move {
                members::finish_reset(conn, token, hash, now).await?;
                ok(StatusCode::OK, &serde_json::json!({"reset": true}))
            })
        })
        .await
}

/// The signed-in member, and the CSRF token of their session.
#[utoipa::path(get, path = "/dashboard/api/session", tag = "Dashboard", responses((status = 200, description = "The member, their memberships and the session's CSRF token.", body = DashboardSession)))]
async fn session(State(state): State<AppState>, auth: MemberAuth) -> Result<Response, Error> {
    let mut conn = state.store.reader().acquire().await?;
    let member = members::member(&mut conn, &auth.signed_in.member_id).await?;
    let session = DashboardSession {
        member,
        csrf_token: members::csrf_token(&auth.token),
        expires_at: dots_shared::time::rfc3339_from_unix_ms(auth.signed_in.expires_at),
    };
    let mut response = axum::Json(session).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Signs out: the session ends on the server (its cookie opens nothing any more)
/// and the browser is told to forget it.
#[utoipa::path(post, path = "/dashboard/api/sign-out", tag = "Dashboard", responses((status = 200, description = "Signed out.")))]
async fn sign_out(State(state): State<AppState>, m: Mutation<MemberAuth, NoFields>) -> Result<Response, Error> {
    let id = m.caller.signed_in.session_id.clone();
    end_session(&state, m.origin, members::Sessions::Member, &id, members::SESSION_COOKIE).await
}

/// Starts turning two-factor sign-in on: a new secret for an authenticator app,
/// shown once; it is in force once a first code confirms it.
#[utoipa::path(post, path = "/dashboard/api/two-factor", tag = "Dashboard", responses((status = 201, description = "The secret (base32) and its otpauth:// link, shown once.", body = dots_shared::api::TotpSetup)))]
async fn start_two_factor(State(state): State<AppState>, m: Mutation<MemberAuth, NoFields>) -> Result<Reply, Error> {
    let args = (state.services.clone(), m.caller.signed_in.member_id.clone());
    state
        .writer
        .run(m.origin.without_key(), args, |conn, (services, member_id), now| {
            Box::pin(async move {
                let setup = members::start_totp(conn, &services.keys, member_id, now).await?;
                let hidden = dots_shared::api::TotpSetup { secret: String::new(), otpauth_url: String::new() };
                Ok(Reply::once(StatusCode::CREATED, &setup, &hidden)?)
            })
        })
        .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTwoFactorRequest {
    /// The authenticator's current 6-digit code.
    pub code: String,
}

/// Confirms two-factor sign-in with a first code: it is on from now, and the
/// answer holds ten single-use recovery codes, shown once.
#[utoipa::path(post, path = "/dashboard/api/two-factor/confirm", tag = "Dashboard", request_body = ConfirmTwoFactorRequest, responses((status = 200, description = "On: the recovery codes, shown once.", body = dots_shared::api::RecoveryCodes)))]
async fn confirm_two_factor(
    State(state): State<AppState>,
    m: Mutation<MemberAuth, ConfirmTwoFactorRequest>,
) -> Result<Reply, Error> {
    let member_id = m.caller.signed_in.member_id.clone();
    let mut conn = state.store.reader().acquire().await?;
    let pending = members::totp_secret(&mut conn, &state.services.keys, &member_id).await?;
    drop(conn);
    let step = match pending {
        Some((_, true)) => return Err(Error::new(ErrorCode::TwoFactorAlreadyOn, "Two-factor sign-in is already on.")),
        Some((secret, false)) => members::totp_step_of(&secret, m.body.code.trim(), now_ms()),
        None => None,
    };
    let Some(step) = step else {
        return Err(Error::invalid(
            ErrorCode::InvalidCode,
            "code",
            "That is not the authenticator's current code (start with POST /dashboard/api/two-factor).",
        ));
    };
    state
        .writer
        .run(m.origin.without_key(), (member_id, step), |conn, (member_id, step), now| {
            Box::pin(async move {
                let codes = members::confirm_totp(conn, member_id, *step, now).await?;
                let hidden = dots_shared::api::RecoveryCodes { recovery_codes: Vec::new() };
                Ok(Reply::once(StatusCode::OK, &codes, &hidden)?)
            })
        })
        .await
}

/// The app's team: who, their role, whether their two-factor sign-in is on.
#[utoipa::path(get, path = "/v2/members", tag = "Dashboard", responses((status = 200, description = "The team.", body = Vec<dots_shared::api::TeamMember>)))]
async fn team(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
) -> Result<axum::Json<Vec<dots_shared::api::TeamMember>>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(members::team(&mut conn, &app.id).await?))
}

/// Invites `email` to the team with `role` (owners; or the app's API key): the
/// single-use link goes out by email (the sandbox's dev outbox) and is shown once
/// in the answer too, with whether the email went.
#[utoipa::path(post, path = "/v2/members/invitations", tag = "Dashboard", request_body = InviteRequest, responses((status = 201, description = "The invitation, its link (shown once) and whether it was emailed.", body = Invitation)))]
async fn invite_member(State(state): State<AppState>, m: Mutation<AppAuth, InviteRequest>) -> Result<Response, Error> {
    let app = m.caller.0.clone();
    let invitation = NewInvitation {
        app_id: app.id.clone(),
        email: members::normalize_email(&m.body.email)?,
        role: members::parse_role(&m.body.role)?,
        invited_by: m.caller.actor().id,
        token: members::new_token("dmi_"),
    };
    let args = (state.services.clone(), invitation);
    let reply = state
        .writer
        .run(m.origin, args, |conn, (services, invitation), now| {
            Box::pin(async move {
                let made = members::invite(conn, &services.public_url, invitation, now).await?;
                Ok(Reply::once(StatusCode::CREATED, &made, &Invitation { url: None, ..made.clone() })?)
            })
        })
        .await?;
    if reply.status != StatusCode::CREATED || reply.replayed {
        return Ok(reply.into_response());
    }
    let mut made: Invitation = serde_json::from_slice(&reply.body).map_err(Error::internal)?;
    let email = members::invitation_email(&app.name, &made);
    let sent = state.services.email.send(&email).await;
    if let Err(e) = &sent {
        tracing::warn!(error = %e, "an invitation could not be emailed");
    }
    made.emailed = Some(sent.is_ok());
    Ok((StatusCode::CREATED, axum::Json(made)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    /// `owner`, `admin`, `reviewer` or `viewer`.
    pub role: String,
}

/// The member's path id, or that member's 404.
fn member_id(id: &str) -> Result<&str, Error> {
    let well_formed =
        id.starts_with("mem_") && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    well_formed.then_some(id).ok_or_else(|| Error::new(ErrorCode::MemberNotFound, "No such member of this app's team."))
}

/// Changes a member's role (owners); their sessions end. An app keeps an owner.
#[utoipa::path(put, path = "/v2/members/{id}", tag = "Dashboard", request_body = ChangeRoleRequest, params(("id" = String, Path, description = "A member id (mem_…).")), responses((status = 200, description = "The member with the new role.", body = dots_shared::api::TeamMember)))]
async fn change_role(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    m: Mutation<AppAuth, ChangeRoleRequest>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id.clone(), member_id(&id)?.to_string(), members::parse_role(&m.body.role)?);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id, role), now| {
            Box::pin(
                async move { ok(StatusCode::OK, &members::change_member(conn, app_id, id, Some(role), now).await?) },
            )
        })
        .await
}

/// Takes a member off the team (owners); their sessions end. An app keeps an owner.
#[utoipa::path(delete, path = "/v2/members/{id}", tag = "Dashboard", params(("id" = String, Path, description = "A member id (mem_…).")), responses((status = 200, description = "Removed.", body = dots_shared::api::Deleted)))]
async fn remove_member(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id.clone(), member_id(&id)?.to_string());
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id), now| {
            Box::pin(async move {
                members::change_member(conn, app_id, id, None, now).await?;
                ok(StatusCode::OK, &dots_shared::api::Deleted { id: id.clone(), deleted: true })
            })
        })
        .await
}
