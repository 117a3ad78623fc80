//! Who is asking and what they may see: sessions, CSRF, login rate limits,
//! and the extractors that enforce access before a handler runs.
//!
//! - [`session_layer`] runs on every request: it looks the session cookie up
//!   once and, on every state-changing request (anything but GET and HEAD),
//!   checks the CSRF token: a form's `csrf` field or the `X-CSRF-Token`
//!   header must equal the session's token (before login: the login cookie's
//!   token, double-submit). JSON login (`POST /api/login`) needs no token but
//!   must be sent as `application/json`, which no cross-site form can send.
//! - [`Auth`] is the logged-in user. [`ClinicAccess`] (path `{clinic}`) and
//!   [`PersonAccess`] (path `{id}`) let a handler run only for a scheduler of
//!   that clinic, of that person's clinic; anything else is 403, whether the
//!   clinic or person exists or not, however the id is written, and the
//!   refusal is audited. [`AggregateAccess`] is for analysts and admins, who
//!   never reach a person-level handler.

use super::store::{AuditEntry, Role, User};
use super::{App, Shared};
use crate::runs::Run;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "caregap_session";
pub const LOGIN_COOKIE: &str = "caregap_login";

/// An error answer: an HTML page for pages, `{"error": …}` for `/api/`.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
    pub api: bool,
    /// Pages: send the browser to the login page instead.
    pub to_login: bool,
}

impl AppError {
    pub fn new(api: bool, status: StatusCode, message: impl Into<String>) -> AppError {
        AppError {
            status,
            message: message.into(),
            api,
            to_login: false,
        }
    }

    pub fn forbidden(api: bool) -> AppError {
        AppError::new(
            api,
            StatusCode::FORBIDDEN,
            "forbidden: not one of your clinics or people",
        )
    }

    pub fn internal(api: bool, e: impl std::fmt::Display) -> AppError {
        AppError::new(
            api,
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.to_login && !self.api {
            return Redirect::to("/login").into_response();
        }
        if self.api {
            let body = serde_json::json!({ "error": self.message, "status": self.status.as_u16() });
            return (self.status, axum::Json(body)).into_response();
        }
        let page = maud::html! {
            (maud::DOCTYPE)
            html { head { meta charset="utf-8"; title { (self.status.as_u16()) } }
            body { h1 { (self.status.as_u16()) } p { (self.message) } p { a href="/" { "↩" } } } }
        };
        (self.status, page).into_response()
    }
}

/// The session found for a request (put in its extensions by [`session_layer`]).
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub token: String,
}

/// The client's address as the audit trail records it.
#[derive(Clone, Debug)]
pub struct Address(pub String);

/// Reads a cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A random token: 32 bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source");
    hex::encode(b)
}

/// Compares two tokens in constant time.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Largest request body: forms and JSON outcomes are a few hundred bytes.
/// `serve::router` sets the same limit on the whole router.
pub const BODY_LIMIT: usize = 256 * 1024;

/// See the module docs.
///
/// A state-changing request's body is read whole here, before anything can
/// refuse it. Answering with the body unread (a refused CSRF token, a person
/// of another clinic) makes the HTTP server close the connection unless the
/// body happened to have arrived already, and a client that reuses the
/// kept-alive connection for its next request then sees it dropped at random.
pub async fn session_layer(
    State(app): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let api = parts.uri.path().starts_with("/api/");
    parts.extensions.insert(Address(addr.ip().to_string()));
    let session = match cookie(&parts.headers, SESSION_COOKIE) {
        Some(token) => match app.session(&token).await {
            Ok(s) => s,
            Err(e) => return AppError::internal(api, e).into_response(),
        },
        None => None,
    };
    if let Some(s) = &session {
        parts.extensions.insert(s.clone());
    }
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return AppError::new(
            api,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request is too large: forms and JSON bodies are limited to 256 KiB",
        )
        .into_response();
    };
    let path = parts.uri.path().to_string();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if path == "/api/login" {
        if !content_type.starts_with("application/json") {
            return AppError::new(
                true,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the login as application/json",
            )
            .into_response();
        }
        return next
            .run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let expected = if path == "/login" {
        cookie(&parts.headers, LOGIN_COOKIE)
    } else {
        session.as_ref().map(|s| s.csrf.clone())
    };
    let Some(expected) = expected else {
        let mut e = AppError::new(api, StatusCode::UNAUTHORIZED, "log in first");
        e.to_login = true;
        return e.into_response();
    };
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ok = if let Some(t) = header_token {
        same(&t, &expected)
    } else if !api && content_type.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded_value(&bytes, "csrf").is_some_and(|t| same(&t, &expected))
    } else {
        false
    };
    if !ok {
        return AppError::new(
            api,
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: reload the page and try again",
        )
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn form_urlencoded_value(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The logged-in user of a request.
#[derive(Clone, Debug)]
pub struct Auth {
    pub user: User,
    pub csrf: String,
    pub token: String,
    pub address: String,
    /// The request is to the JSON API.
    pub api: bool,
}

impl Auth {
    /// An audit entry for this user (action and people filled in by the caller).
    pub fn audit(&self, action: &str, clinic: &str) -> AuditEntry {
        AuditEntry {
            user: self.user.name.clone(),
            role: self.user.role.as_str().to_string(),
            clinic: clinic.to_string(),
            action: action.to_string(),
            address: self.address.clone(),
            ..AuditEntry::default()
        }
    }

    pub fn forbidden(&self) -> AppError {
        AppError::forbidden(self.api)
    }
}

impl FromRequestParts<Shared> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<Auth, AppError> {
        let api = parts.uri.path().starts_with("/api/");
        let address = parts
            .extensions
            .get::<Address>()
            .map_or_else(String::new, |a| a.0.clone());
        match parts.extensions.get::<Session>() {
            Some(s) => Ok(Auth {
                user: s.user.clone(),
                csrf: s.csrf.clone(),
                token: s.token.clone(),
                address,
                api,
            }),
            None => {
                let mut e = AppError::new(api, StatusCode::UNAUTHORIZED, "log in first");
                e.to_login = true;
                Err(e)
            }
        }
    }
}

/// Audits a refused person-level request.
async fn refuse(app: &App, auth: &Auth, what: &str, asked: &str) -> AppError {
    let mut a = auth.audit("denied", "");
    a.detail = format!("{what} {asked:?}");
    // The refusal stands even if it could not be recorded.
    let _ = app.writer.write(super::store::Write::AuditOnly, a).await;
    auth.forbidden()
}

/// A scheduler of the clinic in the path, with the run the request works on.
pub struct ClinicAccess {
    pub auth: Auth,
    pub run: Arc<Run>,
    pub clinic: usize,
}

impl FromRequestParts<Shared> for ClinicAccess {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<ClinicAccess, AppError> {
        let auth = Auth::from_request_parts(parts, app).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|_| auth.forbidden())?;
        let asked = params.get("clinic").cloned().unwrap_or_default();
        let run = app.run.load_full();
        let allowed = auth.user.role == Role::Scheduler && auth.user.clinics.contains(&asked);
        match run.clinic_index(&asked) {
            Some(i) if allowed => Ok(ClinicAccess {
                auth,
                run,
                clinic: i,
            }),
            _ => Err(refuse(app, &auth, "clinic", &asked).await),
        }
    }
}

/// A scheduler of the clinic of the person in the path.
pub struct PersonAccess {
    pub auth: Auth,
    pub run: Arc<Run>,
    pub person: u32,
}

impl PersonAccess {
    pub fn id(&self) -> &str {
        &self.run.people[self.person as usize].id
    }

    pub fn clinic(&self) -> &str {
        &self.run.clinics[self.run.people[self.person as usize].clinic as usize]
    }
}

impl FromRequestParts<Shared> for PersonAccess {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<PersonAccess, AppError> {
        let auth = Auth::from_request_parts(parts, app).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|_| auth.forbidden())?;
        let asked = params.get("id").cloned().unwrap_or_default();
        let run = app.run.load_full();
        let mine = |p: u32| {
            let clinic = &run.clinics[run.people[p as usize].clinic as usize];
            auth.user.role == Role::Scheduler && auth.user.clinics.iter().any(|c| c == clinic)
        };
        match run.find(&asked) {
            Some(p) if mine(p) => Ok(PersonAccess {
                auth,
                run,
                person: p,
            }),
            _ => Err(refuse(app, &auth, "person", &asked).await),
        }
    }
}

/// An analyst or admin: aggregates only.
pub struct AggregateAccess {
    pub auth: Auth,
    pub run: Arc<Run>,
}

impl FromRequestParts<Shared> for AggregateAccess {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Shared,
    ) -> Result<AggregateAccess, AppError> {
        let auth = Auth::from_request_parts(parts, app).await?;
        if auth.user.role == Role::Scheduler {
            return Err(auth.forbidden());
        }
        Ok(AggregateAccess {
            auth,
            run: app.run.load_full(),
        })
    }
}

/// Failed logins per key (user name, address) in a sliding window.
#[derive(Default)]
pub struct Limiter {
    failures: std::sync::Mutex<HashMap<String, Vec<Instant>>>,
}

/// Failed attempts allowed per user name in [`WINDOW`].
pub const PER_USER: usize = 5;
/// Failed attempts allowed per address in [`WINDOW`].
pub const PER_ADDRESS: usize = 20;
/// The rate limit's window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

impl Limiter {
    /// Whether a login for `user` from `address` may be tried now.
    pub fn allowed(&self, user: &str, address: &str) -> bool {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut count = |k: String| {
            let v = m.entry(k).or_default();
            v.retain(|t| now.duration_since(*t) < WINDOW);
            v.len()
        };
        count(format!("u:{user}")) < PER_USER && count(format!("a:{address}")) < PER_ADDRESS
    }

    pub fn failed(&self, user: &str, address: &str) {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for k in [format!("u:{user}"), format!("a:{address}")] {
            m.entry(k).or_default().push(now);
        }
    }

    pub fn succeeded(&self, user: &str) {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(&format!("u:{user}"));
    }
}
