//! An app's team (issue 17, part 2): people who sign in to the dashboard with an
//! email and a password, each with a role in each app they belong to.
//!
//! - **Accounts.** One per email address (lower-cased), whatever apps it belongs
//!   to; the password is kept as an argon2id PHC string (RFC 9106's second
//!   recommended setting as the `argon2` crate defaults it: 19 MiB, 2 passes), never
//!   in plain text, and is 12 to 128 characters.
//! - **Joining.** The operator (or, later, an owner) invites an email with a role:
//!   a single-use link valid for 7 days, of which only the token's SHA-256 is kept.
//!   Accepting it makes the account (choosing its password) or, for an account that
//!   exists, adds the membership once its password is proven.
//! - **Signing in.** A wrong password counts; the fifth in a row locks the account
//!   for 15 minutes (a right one does not get in meanwhile). An unknown email takes
//!   as long and is answered the same as a wrong password. A session is a random
//!   token in an HttpOnly, SameSite=Strict cookie, kept as its SHA-256; it ends after
//!   30 idle minutes, after 12 hours whatever happens, and at sign-out. Changes
//!   made with it carry `X-CSRF-Token` (derived from the token) and a same-origin
//!   `Origin`.
//!
//! - **Two-factor.** A member turns on TOTP (RFC 6238: HMAC-SHA1, 30-second steps,
//!   6 digits, one step either side accepted, each step's code accepted once) by
//!   confirming a first code; they get ten single-use recovery codes (kept hashed).
//!   The secret is sealed like every secret at rest. Owners and admins can move
//!   money: their changes are refused until their two-factor sign-in is on.
//!
//! Hashing a password is deliberately slow (tens of milliseconds): the HTTP layer
//! does it on a blocking thread, never inside the writer's transaction.

use dots_shared::time::rfc3339_from_unix_ms;
use dots_shared::{ErrorCode, api};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::apps::hash_secret;
use crate::error::{Error, TxResult};
use crate::store::{new_id, random_base62};

/// The roles, from most to least power.
pub const ROLES: [&str; 4] = ["owner", "admin", "reviewer", "viewer"];
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
pub const SESSION_ABSOLUTE_MS: i64 = 12 * 3600 * 1000;
/// Wrong passwords in a row that lock the account, and for how long.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dots_session";
/// A password reset's link works this long, once.
pub const RESET_TTL_MS: i64 = 3600 * 1000;
/// Sign-in tries one client address may make in [`SIGN_IN_WINDOW_MS`], whatever the
/// accounts (one account's wrong passwords lock it sooner: [`MAX_FAILED_SIGN_INS`]).
pub const SIGN_INS_PER_CLIENT: i64 = 30;
pub const SIGN_IN_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Reset links one address may ask for in an hour, and one account may be sent.
pub const RESETS_PER_HOUR: i64 = 5;
/// A session's last use is written at most this often.
pub const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// The roles whose changes need two-factor sign-in on (they can move money).
pub const TWO_FACTOR_ROLES: [&str; 2] = ["owner", "admin"];
/// A TOTP step, in seconds.
pub const TOTP_STEP_S: i64 = 30;
const RECOVERY_CODES: usize = 10;

/// What a member's TOTP secret is sealed to.
pub fn totp_context(member_id: &str) -> String {
    format!("member-totp:{member_id}")
}

/// The 6-digit TOTP code of `secret` for `step` (RFC 6238 with HMAC-SHA1).
pub fn totp_code(secret: &[u8], step: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let bits = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    format!("{:06}", bits % 1_000_000)
}

/// The step `code` belongs to, if it is the secret's code within one step of now.
pub fn totp_step_of(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    use subtle::ConstantTimeEq;
    let now = now_ms.div_euclid(1000 * TOTP_STEP_S);
    (now - 1..=now + 1).find(|step| bool::from(totp_code(secret, *step).as_bytes().ct_eq(code.as_bytes())))
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what authenticator apps read).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        for i in 0..(chunk.len() * 8).div_ceil(5) {
            out.push(char::from(BASE32[((bits >> (35 - 5 * i)) & 31) as usize]));
        }
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let (mut out, mut bits, mut count) = (Vec::new(), 0u64, 0);
    for c in text.bytes() {
        let value = BASE32.iter().position(|b| *b == c.to_ascii_uppercase())? as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// Starts turning two-factor sign-in on: a new secret, sealed, not yet in force.
pub async fn start_totp(
    conn: &mut AnyConnection,
    keys: &crate::secrets::Keys,
    member_id: &str,
    now_ms: i64,
) -> TxResult<api::TotpSetup> {
    let row = sqlx::query("SELECT email, totp_enabled_at FROM members WHERE id = $1")
        .bind(member_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(not_signed_in)?;
    if row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some() {
        return Err(Error::new(ErrorCode::TwoFactorAlreadyOn, "Two-factor sign-in is already on.").into());
    }
    let email: String = row.try_get("email")?;
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).expect("the operating system's random source failed");
    let secret = base32(&secret);
    sqlx::query("UPDATE members SET totp_secret_encrypted = $1, updated_at = $2 WHERE id = $3")
        .bind(keys.seal(&totp_context(member_id), &secret))
        .bind(now_ms)
        .bind(member_id)
        .execute(conn)
        .await?;
    let otpauth_url =
        format!("otpauth://totp/Dots:{email}?secret={secret}&issuer=Dots&algorithm=SHA1&digits=6&period={TOTP_STEP_S}");
    Ok(api::TotpSetup { secret, otpauth_url })
}

/// The member's TOTP secret (sealed at rest) and whether it is in force.
pub async fn totp_secret(
    conn: &mut AnyConnection,
    keys: &crate::secrets::Keys,
    member_id: &str,
) -> Result<Option<(Vec<u8>, bool)>, Error> {
    let row = sqlx::query("SELECT totp_secret_encrypted, totp_enabled_at FROM members WHERE id = $1")
        .bind(member_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(not_signed_in)?;
    let Some(sealed) = row.try_get::<Option<String>, _>("totp_secret_encrypted")? else { return Ok(None) };
    let enabled = row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some();
    Ok(Some((open_totp(keys, member_id, &sealed)?, enabled)))
}

/// A sealed TOTP secret, opened.
pub fn open_totp(keys: &crate::secrets::Keys, member_id: &str, sealed: &str) -> Result<Vec<u8>, Error> {
    let secret = keys.open(&totp_context(member_id), sealed).map_err(Error::internal)?;
    base32_decode(&secret).ok_or_else(|| Error::internal("a stored TOTP secret is not base32"))
}

/// A second factor a sign-in (or the confirmation of TOTP) offers, checked.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    /// The account has none.
    None,
    /// A TOTP code of this step.
    Totp(i64),
    /// A recovery code, by its hash.
    Recovery(String),
}

/// Uses the factor once: a TOTP step no earlier than one already used, a recovery
/// code not used before (compare-and-set, so a code works once under any race).
async fn spend(conn: &mut AnyConnection, member_id: &str, factor: &SecondFactor, now_ms: i64) -> TxResult<()> {
    let spent = match factor {
        SecondFactor::None => return Ok(()),
        SecondFactor::Totp(step) => sqlx::query(
            "UPDATE members SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(member_id)
        .execute(conn)
        .await?,
        SecondFactor::Recovery(hash) => sqlx::query(
            "UPDATE member_recovery_codes SET used_at = $1 WHERE member_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now_ms)
        .bind(member_id)
        .bind(hash)
        .execute(conn)
        .await?,
    };
    if spent.rows_affected() != 1 {
        return Err(Error::new(ErrorCode::SignInFailed, "That code was used already; wait for the next one.").into());
    }
    Ok(())
}

/// The factor `code` is for a member whose TOTP secret is `secret`: a TOTP code
/// near now, or else maybe a recovery code (checked when spent).
pub fn second_factor(secret: &[u8], code: &str, now_ms: i64) -> SecondFactor {
    let code = code.trim();
    match totp_step_of(secret, code, now_ms) {
        Some(step) => SecondFactor::Totp(step),
        None => SecondFactor::Recovery(hash_secret(&code.to_ascii_lowercase())),
    }
}

/// Whether `hash` is an unused recovery code of the member's.
pub async fn has_recovery_code(conn: &mut AnyConnection, member_id: &str, hash: &str) -> Result<bool, Error> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT member_id FROM member_recovery_codes WHERE member_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(member_id)
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Turns two-factor sign-in on with a first code of the new secret (`step`); the
/// answer holds the recovery codes, shown this once.
pub async fn confirm_totp(
    conn: &mut AnyConnection,
    member_id: &str,
    step: i64,
    now_ms: i64,
) -> TxResult<api::RecoveryCodes> {
    let on = sqlx::query(
        "UPDATE members SET totp_enabled_at = $1, totp_last_step = $2, updated_at = $1
         WHERE id = $3 AND totp_enabled_at IS NULL AND totp_secret_encrypted IS NOT NULL",
    )
    .bind(now_ms)
    .bind(step)
    .bind(member_id)
    .execute(&mut *conn)
    .await?;
    if on.rows_affected() != 1 {
        return Err(Error::new(ErrorCode::TwoFactorAlreadyOn, "Two-factor sign-in is already on.").into());
    }
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = random_base62(12).to_ascii_lowercase();
        let code = format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..]);
        sqlx::query("INSERT INTO member_recovery_codes (member_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(member_id)
            .bind(hash_secret(&code))
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
        codes.push(code);
    }
    Ok(api::RecoveryCodes { recovery_codes: codes })
}

/// The least role that may call `route` (the router's template) with `method`
/// from the dashboard. Reading is for every member; approving or denying a flagged
/// payout is a reviewer's; the app's settings, rules, keys, webhooks and team are
/// its owners'; every other change (users, payouts, links, refills) is an admin's.
pub fn role_needed(method: &str, route: &str) -> &'static str {
    match (method, route) {
        ("GET" | "HEAD", _) => "viewer",
        ("POST", "/v2/transfers/{id}/approve" | "/v2/transfers/{id}/deny") => "reviewer",
        (_, "/v2/apps/me/rules" | "/v2/apps/me/settings" | "/v2/apps/me/secret/rotate") => "owner",
        (_, route) if route.starts_with("/v2/webhooks") || route.starts_with("/v2/members") => "owner",
        _ => "admin",
    }
}

/// Whether `role` may do what `needed` may (an owner may do everything).
pub fn role_allows(role: &str, needed: &str) -> bool {
    let rank = |r: &str| ROLES.iter().position(|x| *x == r).unwrap_or(ROLES.len());
    rank(role) <= rank(needed)
}

/// The app `app_id` as its member `member_id` acts in it, the member's role, and
/// whether their two-factor sign-in is on.
pub async fn acting_in(
    conn: &mut AnyConnection,
    member_id: &str,
    app_id: &str,
) -> Result<(crate::apps::AuthedApp, String, bool), Error> {
    let row = sqlx::query(
        "SELECT a.id, a.name, a.client_id, a.currency, a.wallet_id, a.suspended_at, a.mode, s.role, m.totp_enabled_at
         FROM memberships s
         JOIN apps a ON a.id = s.app_id JOIN members m ON m.id = s.member_id
         WHERE s.member_id = $1 AND s.app_id = $2",
    )
    .bind(member_id)
    .bind(app_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::new(ErrorCode::NotAMember, "You are not a member of that app's team."))?;
    let currency: String = row.try_get("currency")?;
    let app = crate::apps::AuthedApp {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        client_id: row.try_get("client_id")?,
        currency: dots_shared::Currency::parse(&currency).map_err(Error::internal)?,
        wallet_id: row.try_get("wallet_id")?,
        member: Some(member_id.to_string()),
        suspended: row.try_get::<Option<i64>, _>("suspended_at")?.is_some(),
        live: row.try_get::<String, _>("mode")? == "live",
    };
    Ok((app, row.try_get("role")?, row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some()))
}

/// The password's argon2id hash (PHC string, with a random salt).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with its defaults").to_string()
}

/// Whether `password` is the one `hash` was made from (constant time in the hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash no password matches, verified against when the email is unknown so that
/// the answer takes as long as for a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_base62(32)))
}

/// A password a member may choose.
pub fn check_password(password: &str, email: &str) -> Result<(), Error> {
    let weak = |why: &str| Error::invalid(ErrorCode::WeakPassword, "password", why.to_string());
    let length = password.chars().count();
    if length < 12 {
        return Err(weak("The password must be at least 12 characters."));
    }
    if length > 128 {
        return Err(weak("The password must be at most 128 characters."));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) || password.chars().all(|c| password.starts_with(c)) {
        return Err(weak("The password must not be the email address or one character repeated."));
    }
    Ok(())
}

/// The email an account is known by: valid, lower-cased.
pub fn normalize_email(raw: &str) -> Result<String, Error> {
    Ok(crate::contact::Email::parse(raw)?.into_string().to_lowercase())
}

pub fn parse_role(role: &str) -> Result<&'static str, Error> {
    ROLES
        .into_iter()
        .find(|r| *r == role)
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidField, "role", "role must be owner, admin, reviewer or viewer"))
}

/// The CSRF token of the session whose cookie is `token`: readable by the
/// dashboard's own pages (it comes in their answers), not by another site's.
pub fn csrf_token(token: &str) -> String {
    let digest = Sha256::digest(format!("dots-csrf:{token}").as_bytes());
    crate::secrets::hex(&digest[..16])
}

/// A new invitation's token and a new session's token (shown once, kept hashed).
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", random_base62(40))
}

/// An invitation to make: `email` joins `app_id` as `role`.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub app_id: String,
    pub email: String,
    pub role: &'static str,
    /// Who invited (the operator, or a member's id).
    pub invited_by: String,
    pub token: String,
}

/// Records the invitation; its answer carries the link (`url`), shown this once.
pub async fn invite(
    conn: &mut AnyConnection,
    public_url: &str,
    invitation: &NewInvitation,
    now_ms: i64,
) -> TxResult<api::Invitation> {
    let app: Option<String> = sqlx::query_scalar("SELECT id FROM apps WHERE id = $1")
        .bind(&invitation.app_id)
        .fetch_optional(&mut *conn)
        .await?;
    if app.is_none() {
        return Err(Error::new(ErrorCode::AppNotFound, "No such app.").into());
    }
    let taken: Option<String> = sqlx::query_scalar(
        "SELECT m.id FROM members m JOIN memberships s ON s.member_id = m.id WHERE m.email = $1 AND s.app_id = $2",
    )
    .bind(&invitation.email)
    .bind(&invitation.app_id)
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_some() {
        return Err(Error::new(ErrorCode::MemberExists, "That email is already a member of this app.").into());
    }
    let id = new_id("inv_");
    let expires_at = now_ms + INVITATION_TTL_MS;
    sqlx::query(
        "INSERT INTO member_invitations (id, app_id, email, role, token_hash, invited_by, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&invitation.app_id)
    .bind(&invitation.email)
    .bind(invitation.role)
    .bind(hash_secret(&invitation.token))
    .bind(&invitation.invited_by)
    .bind(expires_at)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(api::Invitation {
        id,
        app_id: invitation.app_id.clone(),
        email: invitation.email.clone(),
        role: invitation.role.to_string(),
        url: Some(format!("{public_url}/dashboard/accept#{}", invitation.token)),
        expires_at: rfc3339_from_unix_ms(expires_at),
        emailed: None,
    })
}

/// The invitation's email: the app's name, the role and the link.
pub fn invitation_email(app_name: &str, invitation: &api::Invitation) -> crate::email::Email {
    let link = invitation.url.clone().unwrap_or_default();
    let app = crate::email::escape_html(app_name);
    crate::email::Email {
        app_id: invitation.app_id.clone(),
        to: invitation.email.clone(),
        subject: format!("Join {app_name} on Dots"),
        text: format!(
            "You are invited to join {app_name}'s team on Dots as {role}.\n\nAccept: {link}\n\nThe link works once, for 7 days.",
            role = invitation.role
        ),
        html: format!(
            "<p>You are invited to join <strong>{app}</strong>'s team on Dots as {role}.</p>\
             <p><a href=\"{href}\">Accept the invitation</a></p><p>The link works once, for 7 days.</p>",
            role = invitation.role,
            href = crate::email::escape_html(&link)
        ),
    }
}

/// A team member's row, as [`team_member`] reads it.
const TEAM: &str = "SELECT m.id, m.email, s.role, m.totp_enabled_at, s.created_at FROM memberships s
     JOIN members m ON m.id = s.member_id";

/// The app's team.
pub async fn team(conn: &mut AnyConnection, app_id: &str) -> Result<Vec<api::TeamMember>, Error> {
    let rows = sqlx::query(&format!("{TEAM} WHERE s.app_id = $1 ORDER BY s.created_at, m.id"))
        .bind(app_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| team_member(r).map_err(Error::from)).collect()
}

fn team_member(row: &sqlx::any::AnyRow) -> Result<api::TeamMember, sqlx::Error> {
    Ok(api::TeamMember {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: row.try_get("role")?,
        two_factor: row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some(),
        joined: rfc3339_from_unix_ms(row.try_get("created_at")?),
    })
}

fn member_not_found() -> Error {
    Error::new(ErrorCode::MemberNotFound, "No such member of this app's team.")
}

/// Changes a member's role (`role`), or takes them off the team (`None`). An
/// app keeps at least one owner. Their sessions end either way: what they may do
/// is decided again at their next sign-in.
pub async fn change_member(
    conn: &mut AnyConnection,
    app_id: &str,
    member_id: &str,
    role: Option<&str>,
    now_ms: i64,
) -> TxResult<Option<api::TeamMember>> {
    let current: String = sqlx::query_scalar("SELECT role FROM memberships WHERE app_id = $1 AND member_id = $2")
        .bind(app_id)
        .bind(member_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(member_not_found)?;
    if current == "owner" && role != Some("owner") {
        // Counted under the rows' locks on PostgreSQL (SQLite has one writer).
        let lock = if crate::store::Backend::of(conn) == crate::store::Backend::Postgres { " FOR UPDATE" } else { "" };
        let owners: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT member_id FROM memberships WHERE app_id = $1 AND role = 'owner'{lock}"
        ))
        .bind(app_id)
        .fetch_all(&mut *conn)
        .await?;
        if owners.len() <= 1 {
            return Err(
                Error::new(ErrorCode::LastOwner, "An app keeps at least one owner: make another owner first.").into()
            );
        }
    }
    match role {
        Some(role) => {
            sqlx::query("UPDATE memberships SET role = $1 WHERE app_id = $2 AND member_id = $3")
                .bind(role)
                .bind(app_id)
                .bind(member_id)
                .execute(&mut *conn)
                .await?;
        }
        None => {
            sqlx::query("DELETE FROM memberships WHERE app_id = $1 AND member_id = $2")
                .bind(app_id)
                .bind(member_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query("UPDATE member_sessions SET revoked_at = $1 WHERE member_id = $2 AND revoked_at IS NULL")
        .bind(now_ms)
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    if role.is_none() {
        return Ok(None);
    }
    let row = sqlx::query(&format!("{TEAM} WHERE s.app_id = $1 AND s.member_id = $2"))
        .bind(app_id)
        .bind(member_id)
        .fetch_one(conn)
        .await?;
    Ok(Some(team_member(&row)?))
}

/// An open invitation, as the one who holds its link may read it.
#[derive(Debug, Clone)]
pub struct OpenInvitation {
    pub id: String,
    pub app_id: String,
    pub email: String,
    /// The account of that email, if there is one, and its password hash.
    pub account: Option<(String, String)>,
}

fn invitation_invalid() -> Error {
    Error::new(ErrorCode::InvitationInvalid, "This invitation link is not valid: it was used, or it has expired.")
}

/// The invitation whose link holds `token`, while it may be accepted.
pub async fn open_invitation(conn: &mut AnyConnection, token: &str, now_ms: i64) -> Result<OpenInvitation, Error> {
    let row = sqlx::query(
        "SELECT i.id, i.app_id, i.email, m.id AS member_id, m.password_hash FROM member_invitations i
         LEFT JOIN members m ON m.email = i.email
         WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.expires_at > $2",
    )
    .bind(hash_secret(token))
    .bind(now_ms)
    .fetch_optional(conn)
    .await?
    .ok_or_else(invitation_invalid)?;
    let account = match row.try_get::<Option<String>, _>("member_id")? {
        Some(id) => Some((id, row.try_get("password_hash")?)),
        None => None,
    };
    Ok(OpenInvitation { id: row.try_get("id")?, app_id: row.try_get("app_id")?, email: row.try_get("email")?, account })
}

/// Accepts the invitation (once: compare-and-set), making the account with
/// `new_password_hash` if the email has none, and the membership.
pub async fn accept(
    conn: &mut AnyConnection,
    token: &str,
    new_password_hash: Option<&str>,
    now_ms: i64,
) -> TxResult<api::Member> {
    let row = sqlx::query(
        "UPDATE member_invitations SET accepted_at = $1
         WHERE token_hash = $2 AND accepted_at IS NULL AND expires_at > $1 RETURNING app_id, email, role",
    )
    .bind(now_ms)
    .bind(hash_secret(token))
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(invitation_invalid)?;
    let (app_id, email, role): (String, String, String) =
        (row.try_get("app_id")?, row.try_get("email")?, row.try_get("role")?);
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM members WHERE email = $1").bind(&email).fetch_optional(&mut *conn).await?;
    let member_id = match (existing, new_password_hash) {
        (Some(id), _) => id,
        (None, Some(hash)) => {
            let id = new_id("mem_");
            sqlx::query(
                "INSERT INTO members (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&id)
            .bind(&email)
            .bind(hash)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            id
        }
        // The account was made since the link was read: prove its password again.
        (None, None) => return Err(invitation_invalid().into()),
    };
    let joined = sqlx::query(
        "INSERT INTO memberships (member_id, app_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (member_id, app_id) DO NOTHING",
    )
    .bind(&member_id)
    .bind(&app_id)
    .bind(&role)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if joined.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::MemberExists, "That email is already a member of this app.").into());
    }
    Ok(member(conn, &member_id).await?)
}

/// The account and its memberships.
pub async fn member(conn: &mut AnyConnection, member_id: &str) -> Result<api::Member, Error> {
    let (email, two_factor): (String, Option<i64>) =
        sqlx::query_as("SELECT email, totp_enabled_at FROM members WHERE id = $1")
            .bind(member_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(not_signed_in)?;
    let rows = sqlx::query(
        "SELECT s.app_id, a.name, s.role FROM memberships s JOIN apps a ON a.id = s.app_id
         WHERE s.member_id = $1 ORDER BY s.created_at, s.app_id",
    )
    .bind(member_id)
    .fetch_all(conn)
    .await?;
    let memberships = rows
        .iter()
        .map(|r| {
            Ok(api::Membership { app_id: r.try_get("app_id")?, app_name: r.try_get("name")?, role: r.try_get("role")? })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(api::Member { id: member_id.to_string(), email, two_factor: two_factor.is_some(), memberships })
}

/// What signing in needs of an account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub password_hash: String,
    pub locked_until: Option<i64>,
    /// The sealed TOTP secret, when two-factor sign-in is on.
    pub two_factor: Option<String>,
}

pub async fn account(conn: &mut AnyConnection, email: &str) -> Result<Option<Account>, Error> {
    let row = sqlx::query(
        "SELECT id, password_hash, locked_until, totp_secret_encrypted, totp_enabled_at FROM members WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(row) => Some(Account {
            id: row.try_get("id")?,
            password_hash: row.try_get("password_hash")?,
            locked_until: row.try_get("locked_until")?,
            two_factor: match row.try_get::<Option<i64>, _>("totp_enabled_at")? {
                Some(_) => row.try_get("totp_secret_encrypted")?,
                None => None,
            },
        }),
        None => None,
    })
}

/// The refusal of a locked account, saying for how long.
pub fn locked(until_ms: i64, now_ms: i64) -> Error {
    let minutes = ((until_ms - now_ms) + 59_999) / 60_000;
    Error::new(
        ErrorCode::AccountLocked,
        format!(
            "Too many wrong passwords: signing in to this account is paused for {minutes} more minute{}. \
             If you forgot the password, choose a new one.",
            if minutes == 1 { "" } else { "s" }
        ),
    )
}

/// Counts a wrong password; the fifth in a row locks the account. Whether it is
/// locked now.
pub async fn count_failure(conn: &mut AnyConnection, member_id: &str, now_ms: i64) -> TxResult<bool> {
    let failed: i64 = sqlx::query_scalar(
        "UPDATE members SET failed_sign_ins = failed_sign_ins + 1, updated_at = $1 WHERE id = $2 RETURNING failed_sign_ins",
    )
    .bind(now_ms)
    .bind(member_id)
    .fetch_one(&mut *conn)
    .await?;
    if failed < MAX_FAILED_SIGN_INS {
        return Ok(false);
    }
    sqlx::query("UPDATE members SET locked_until = $1, failed_sign_ins = 0 WHERE id = $2")
        .bind(now_ms + LOCK_MS)
        .bind(member_id)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Signs the account in: its failures are forgotten and a session starts, under
/// `token` (the cookie's value; only its hash is kept).
pub async fn start_session(
    conn: &mut AnyConnection,
    member_id: &str,
    token: &str,
    factor: &SecondFactor,
    now_ms: i64,
) -> TxResult<api::DashboardSession> {
    spend(conn, member_id, factor, now_ms).await?;
    // Still not locked (a lock may have landed while the password was checked).
    let locked_until: Option<i64> = sqlx::query_scalar(
        "UPDATE members SET failed_sign_ins = 0, updated_at = $1 WHERE id = $2 RETURNING locked_until",
    )
    .bind(now_ms)
    .bind(member_id)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(until) = locked_until.filter(|until| *until > now_ms) {
        return Err(locked(until, now_ms).into());
    }
    let expires_at = now_ms + SESSION_ABSOLUTE_MS;
    sqlx::query(
        "INSERT INTO member_sessions (id, token_hash, member_id, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(new_id("mss_"))
    .bind(hash_secret(token))
    .bind(member_id)
    .bind(now_ms)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(api::DashboardSession {
        member: member(conn, member_id).await?,
        csrf_token: csrf_token(token),
        expires_at: rfc3339_from_unix_ms(expires_at),
    })
}

fn not_signed_in() -> Error {
    Error::new(ErrorCode::NotSignedIn, "Sign in to the dashboard (the session has ended or never began).")
}

/// A live session, found by its cookie.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_id: String,
    pub member_id: String,
    pub expires_at: i64,
    /// Its last use is old enough to be written again ([`touch`]).
    pub stale: bool,
}

/// The session whose cookie is `token`, unless it ended (signed out, idle for
/// [`SESSION_IDLE_MS`], or past [`SESSION_ABSOLUTE_MS`]).
pub async fn session(conn: &mut AnyConnection, token: &str, now_ms: i64) -> Result<SignedIn, Error> {
    let row = sqlx::query(
        "SELECT id, member_id, last_seen_at, expires_at FROM member_sessions
         WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3",
    )
    .bind(hash_secret(token))
    .bind(now_ms)
    .bind(now_ms - SESSION_IDLE_MS)
    .fetch_optional(conn)
    .await?
    .ok_or_else(not_signed_in)?;
    let last_seen: i64 = row.try_get("last_seen_at")?;
    Ok(SignedIn {
        session_id: row.try_get("id")?,
        member_id: row.try_get("member_id")?,
        expires_at: row.try_get("expires_at")?,
        stale: now_ms - last_seen >= TOUCH_EVERY_MS,
    })
}

/// The dashboard's two kinds of session, each kept in a table of its own: a
/// member's and the operator's (`crate::operator`).
#[derive(Debug, Clone, Copy)]
pub enum Sessions {
    Member,
    Operator,
}

impl Sessions {
    fn table(self) -> &'static str {
        match self {
            Sessions::Member => "member_sessions",
            Sessions::Operator => "operator_sessions",
        }
    }
}

/// Records the session's use (its idle limit starts again).
pub async fn touch(conn: &mut AnyConnection, sessions: Sessions, session_id: &str, now_ms: i64) -> TxResult<()> {
    let sql = format!("UPDATE {} SET last_seen_at = $1 WHERE id = $2 AND revoked_at IS NULL", sessions.table());
    sqlx::query(&sql).bind(now_ms).bind(session_id).execute(conn).await?;
    Ok(())
}

fn reset_link_invalid() -> Error {
    Error::new(
        ErrorCode::ResetLinkInvalid,
        "This link to choose a new password was used, or it has expired. Ask for a new one.",
    )
}

/// Starts a password reset for `email`'s account, if there is one: a single-use
/// link (an hour), kept hashed. `None` when no account has that email (the caller
/// answers alike).
pub async fn start_reset(
    conn: &mut AnyConnection,
    public_url: &str,
    email: &str,
    token: &str,
    now_ms: i64,
) -> TxResult<Option<String>> {
    let Some(member_id) = sqlx::query_scalar::<_, String>("SELECT id FROM members WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    crate::limits::rate_limit(conn, &format!("password-reset:{member_id}"), 3_600_000, RESETS_PER_HOUR, now_ms).await?;
    sqlx::query(
        "INSERT INTO member_password_resets (id, member_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id("mpr_"))
    .bind(&member_id)
    .bind(hash_secret(token))
    .bind(now_ms + RESET_TTL_MS)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(Some(format!("{public_url}/dashboard/reset#{token}")))
}

/// The reset email: the link, and what to do if it was not asked for.
pub fn reset_email(to: &str, link: &str) -> crate::email::Email {
    crate::email::Email {
        // No app's outbox shows it: it is the member's, not an app's.
        app_id: String::new(),
        to: to.to_string(),
        subject: "Choose a new Dots dashboard password".into(),
        text: format!(
            "Someone (we hope you) asked to choose a new password for your Dots dashboard account.\n\n\
             Choose it here: {link}\n\nThe link works once, for an hour. If you did not ask, ignore this email: \
             your password stays as it is."
        ),
        html: format!(
            "<p>Someone (we hope you) asked to choose a new password for your Dots dashboard account.</p>\
             <p><a href=\"{href}\">Choose a new password</a></p><p>The link works once, for an hour. If you did not \
             ask, ignore this email: your password stays as it is.</p>",
            href = crate::email::escape_html(link)
        ),
    }
}

/// The account a reset link is for (its id and email), while the link works.
pub async fn open_reset(conn: &mut AnyConnection, token: &str, now_ms: i64) -> Result<(String, String), Error> {
    sqlx::query_as(
        "SELECT m.id, m.email FROM member_password_resets r JOIN members m ON m.id = r.member_id
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2",
    )
    .bind(hash_secret(token))
    .bind(now_ms)
    .fetch_optional(conn)
    .await?
    .ok_or_else(reset_link_invalid)
}

/// Uses the reset link (once: compare-and-set): the account gets `password_hash`,
/// is unlocked, and every session it had ends, as does every other reset link.
pub async fn finish_reset(conn: &mut AnyConnection, token: &str, password_hash: &str, now_ms: i64) -> TxResult<String> {
    let member_id: String = sqlx::query_scalar(
        "UPDATE member_password_resets SET used_at = $1
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING member_id",
    )
    .bind(now_ms)
    .bind(hash_secret(token))
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(reset_link_invalid)?;
    sqlx::query(
        "UPDATE members SET password_hash = $1, failed_sign_ins = 0, locked_until = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now_ms)
    .bind(&member_id)
    .execute(&mut *conn)
    .await?;
    for table in [
        "member_sessions SET revoked_at = $1 WHERE member_id = $2 AND revoked_at IS NULL",
        "member_password_resets SET used_at = $1 WHERE member_id = $2 AND used_at IS NULL",
    ] {
        sqlx::query(&format!("UPDATE {table}")).bind(now_ms).bind(&member_id).execute(&mut *conn).await?;
    }
    Ok(member_id)
}

/// Ends the session: its cookie opens nothing any more.
pub async fn sign_out(conn: &mut AnyConnection, sessions: Sessions, session_id: &str, now_ms: i64) -> TxResult<()> {
    let sql = format!("UPDATE {} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", sessions.table());
    sqlx::query(&sql).bind(now_ms).bind(session_id).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_checked() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert_ne!(hash, hash_password("correct horse battery"), "salted");
        assert!(!verify_password(decoy_hash(), ""));
    }

    #[test]
    fn totp_codes_are_rfc_6238s() {
        // RFC 6238 appendix B (SHA-1), the last 6 of its 8 digits.
        let secret = b"12345678901234567890";
        for (time_s, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(totp_code(secret, time_s / TOTP_STEP_S), code, "{time_s}");
        }
        assert_eq!(totp_step_of(secret, "287082", 59_000), Some(1));
        assert_eq!(totp_step_of(secret, "287082", 89_000), Some(1), "one step late is accepted");
        assert_eq!(totp_step_of(secret, "287082", 120_000), None, "two steps late is not");
        assert_eq!(base32(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").as_deref(), Some(&secret[..]));
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32_decode("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert!(base32_decode("1!").is_none());
    }

    #[test]
    fn weak_passwords_are_refused() {
        for weak in ["short", "aaaaaaaaaaaaaaaa", "ada@example.com", &"x".repeat(129)] {
            assert!(check_password(weak, "ada@example.com").is_err(), "{weak}");
        }
        assert!(check_password("a long passphrase", "ada@example.com").is_ok());
        assert_eq!(csrf_token("dms_x").len(), 32);
        assert_eq!(role_needed("GET", "/v2/transfers"), "viewer");
        assert_eq!(role_needed("POST", "/v2/transfers/{id}/approve"), "reviewer");
        assert_eq!(role_needed("POST", "/v2/payouts"), "admin");
        assert_eq!(role_needed("POST", "/v2/webhooks/{id}/rotate-secret"), "owner");
        assert!(role_allows("owner", "admin") && role_allows("admin", "reviewer") && role_allows("reviewer", "viewer"));
        assert!(
            !role_allows("reviewer", "admin") && !role_allows("viewer", "reviewer") && !role_allows("admin", "owner")
        );
        assert!(!role_allows("king", "viewer"), "an unknown role may do nothing");
        assert_ne!(csrf_token("dms_x"), csrf_token("dms_y"));
    }
}
