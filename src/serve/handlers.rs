//! The page routes: forms in, HTML or redirects out. Access is decided by the
//! extractors (`auth.rs`), the work by `ops.rs`; these only translate.

use super::auth::{
    AggregateAccess, AppError, Auth, ClinicAccess, LOGIN_COOKIE, PersonAccess, SESSION_COOKIE,
    cookie, random_token,
};
use super::i18n::{Texts, Tr};
use super::pages::{self, Frame};
use super::store::{self, AuditEntry, Role, Write};
use super::{Shared, ops};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

fn tr<'a>(app: &'a Shared, lang: &str) -> Tr<'a> {
    Tr {
        texts: &app.texts,
        lang: Texts::lang(lang),
    }
}

fn frame<'a>(app: &'a Shared, auth: &'a Auth, here: &'a str) -> Frame<'a> {
    Frame {
        tr: tr(app, &auth.user.language),
        user: &auth.user,
        csrf: &auth.csrf,
        here,
    }
}

/// `Set-Cookie` for the session (`Secure` over TLS).
pub fn session_cookie(app: &Shared, token: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if app.secure { "; Secure" } else { "" }
    )
}

/// `/`: a scheduler's first list, or the overview.
pub async fn home(auth: Auth) -> Response {
    match (auth.user.role, auth.user.clinics.first()) {
        (Role::Scheduler, Some(c)) => {
            Redirect::to(&format!("/clinics/{}/list", segment(c))).into_response()
        }
        _ => Redirect::to("/overview").into_response(),
    }
}

#[derive(Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// The login form, with a fresh double-submit token in a cookie.
pub async fn login_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64)
        .unwrap_or_else(random_token);
    let lang = q.lang.as_deref().unwrap_or("fi");
    login_response(&app, &token, lang, None, StatusCode::OK)
}

fn login_response(
    app: &Shared,
    token: &str,
    lang: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let set = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if app.secure { "; Secure" } else { "" }
    );
    (
        status,
        [(header::SET_COOKIE, set)],
        pages::login(tr(app, lang), token, error),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub user: String,
    pub password: String,
    #[serde(default)]
    pub lang: Option<String>,
}

/// The result of a login attempt.
pub enum LoginResult {
    Ok {
        token: String,
        csrf: String,
        user: store::User,
    },
    Refused,
    Limited,
}

/// Checks a user name and password (rate-limited, audited) and opens a session.
pub async fn try_login(
    app: &Shared,
    name: &str,
    password: &str,
    address: &str,
) -> Result<LoginResult, String> {
    if !app.limiter.allowed(name, address) {
        let a = AuditEntry {
            user: name.to_string(),
            action: "login_limited".into(),
            address: address.to_string(),
            ..AuditEntry::default()
        };
        app.writer.write(Write::AuditOnly, a).await?;
        return Ok(LoginResult::Limited);
    }
    let n = name.to_string();
    let found = app.read(move |c| store::user_by_name(c, &n)).await?;
    let pw = password.to_string();
    let user = tokio::task::spawn_blocking(move || match found {
        // Verify against a real hash either way, so timing does not tell whether the user exists.
        Some((u, hash)) => (store::check_password(&pw, &hash) && !u.disabled).then_some(u),
        None => {
            let _ = store::check_password(&pw, dummy_hash());
            None
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    let Some(user) = user else {
        app.limiter.failed(name, address);
        let a = AuditEntry {
            user: name.to_string(),
            action: "login_failed".into(),
            address: address.to_string(),
            ..AuditEntry::default()
        };
        app.writer.write(Write::AuditOnly, a).await?;
        return Ok(LoginResult::Refused);
    };
    app.limiter.succeeded(name);
    let token = random_token();
    let csrf = random_token();
    let expires = chrono::Utc::now().timestamp() + app.config.session.as_secs() as i64;
    let a = AuditEntry {
        user: user.name.clone(),
        role: user.role.as_str().into(),
        action: "login".into(),
        address: address.to_string(),
        ..AuditEntry::default()
    };
    app.writer
        .write(
            Write::Session {
                token_hash: store::token_hash(&token),
                user_id: user.id,
                csrf: csrf.clone(),
                expires,
            },
            a,
        )
        .await?;
    Ok(LoginResult::Ok { token, csrf, user })
}

/// An argon2id hash of a random password, verified against when the user does not exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| store::hash_password(&random_token()).unwrap_or_default())
}

pub async fn login(
    State(app): State<Shared>,
    headers: HeaderMap,
    axum::Extension(addr): axum::Extension<super::auth::Address>,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let lang = f.lang.clone().unwrap_or_else(|| "fi".into());
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    match try_login(&app, f.user.trim(), &f.password, &addr.0)
        .await
        .map_err(|e| AppError::internal(false, e))?
    {
        LoginResult::Ok { token, .. } => Ok((
            StatusCode::SEE_OTHER,
            [
                (
                    header::SET_COOKIE,
                    session_cookie(&app, &token, app.config.session.as_secs() as i64),
                ),
                (header::LOCATION, "/".to_string()),
            ],
        )
            .into_response()),
        LoginResult::Refused => {
            let t = tr(&app, &lang);
            Ok(login_response(
                &app,
                &token,
                &lang,
                Some(&t.t("login-refused")),
                StatusCode::UNAUTHORIZED,
            ))
        }
        LoginResult::Limited => {
            let t = tr(&app, &lang);
            let mut r = login_response(
                &app,
                &token,
                &lang,
                Some(&t.t("login-limited")),
                StatusCode::TOO_MANY_REQUESTS,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, "900".parse().expect("a header value"));
            Ok(r)
        }
    }
}

/// Ends the session (audited) and clears the cookie.
pub async fn end_session(app: &Shared, auth: &Auth) -> Result<(), AppError> {
    app.writer
        .write(
            Write::EndSession {
                token_hash: store::token_hash(&auth.token),
            },
            auth.audit("logout", ""),
        )
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(())
}

pub async fn logout(State(app): State<Shared>, auth: Auth) -> Result<Response, AppError> {
    end_session(&app, &auth).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, session_cookie(&app, "", 0)),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct LanguageForm {
    pub lang: String,
    #[serde(default)]
    pub back: String,
}

/// Only a path of this site (no scheme, no `//host`, nothing but visible
/// ASCII, as a `Location` header holds) is a place to go back to.
fn local_path(p: &str) -> &str {
    let visible = p.bytes().all(|b| b.is_ascii_graphic());
    if visible && p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') {
        p
    } else {
        "/"
    }
}

/// `s` as one segment of a URL path: every byte but `A-Z a-z 0-9 - . _ ~`
/// percent-encoded, so any identifier makes a link (and a `Location`) that
/// leads back to it.
pub fn segment(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

pub async fn language(
    State(app): State<Shared>,
    auth: Auth,
    Form(f): Form<LanguageForm>,
) -> Result<Response, AppError> {
    let lang = Texts::lang(&f.lang).to_string();
    let mut a = auth.audit("language", "");
    a.detail = lang.clone();
    app.writer
        .write(
            Write::Language {
                user_id: auth.user.id,
                language: lang,
            },
            a,
        )
        .await
        .map_err(|e| AppError::internal(false, e))?;
    Ok(Redirect::to(local_path(&f.back)).into_response())
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
    /// A message to show after a redirect (`recorded`, `consent`).
    pub done: Option<String>,
    pub filter: Option<String>,
}

pub async fn list(
    State(app): State<Shared>,
    access: ClinicAccess,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, AppError> {
    let ClinicAccess { auth, run, clinic } = access;
    let l = ops::list_page(&app, &auth, &run, clinic, q.page, q.per_page).await?;
    let here = format!("/clinics/{}/list", segment(&l.clinic));
    Ok(Html(
        pages::list(&frame(&app, &auth, &here), &l).into_string(),
    ))
}

/// CSV export of a clinic's list (pages and API alike).
pub async fn export(State(app): State<Shared>, access: ClinicAccess) -> Result<Response, AppError> {
    let ClinicAccess { auth, run, clinic } = access;
    let csv = ops::export_csv(&app, &auth, &run, clinic).await?;
    let name = format!(
        "calllist-{}-{}.csv",
        run.clinics[clinic].replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        run.as_of_text
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        csv,
    )
        .into_response())
}

pub async fn person(
    State(app): State<Shared>,
    access: PersonAccess,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, AppError> {
    let p = ops::person(&app, &access.auth, &access.run, access.person).await?;
    let here = format!("/people/{}", segment(&p.patient_id));
    let f = frame(&app, &access.auth, &here);
    let notice = match q.done.as_deref() {
        Some("outcome") => Some(f.tr.t("notice-outcome")),
        Some("consent") => Some(f.tr.t("notice-consent")),
        _ => None,
    };
    let reveal = match app.reidentification {
        Some(_) => pages::Reveal::Offered,
        None => pages::Reveal::Unavailable,
    };
    Ok(Html(
        pages::person(&f, &p, notice.as_deref(), reveal).into_string(),
    ))
}

/// The person page with the original identifier shown (a `POST`, so that
/// the CSRF token is checked and no address holds it; audited in
/// [`ops::reveal`]).
pub async fn reveal(
    State(app): State<Shared>,
    access: PersonAccess,
) -> Result<Html<String>, AppError> {
    let original = ops::reveal(&app, &access.auth, &access.run, access.person).await?;
    let p = ops::person(&app, &access.auth, &access.run, access.person).await?;
    let here = format!("/people/{}", segment(&p.patient_id));
    let f = frame(&app, &access.auth, &here);
    Ok(Html(
        pages::person(&f, &p, None, pages::Reveal::Shown(&original)).into_string(),
    ))
}

#[derive(Deserialize)]
pub struct OutcomeForm {
    pub outcome: String,
    #[serde(default)]
    pub criterion: String,
    #[serde(default)]
    pub note: String,
}

pub async fn outcome(
    State(app): State<Shared>,
    access: PersonAccess,
    Form(f): Form<OutcomeForm>,
) -> Result<Response, AppError> {
    let crit = (!f.criterion.is_empty()).then_some(f.criterion.as_str());
    ops::record_outcome(
        &app,
        &access.auth,
        &access.run,
        access.person,
        &f.outcome,
        crit,
        &f.note,
    )
    .await?;
    Ok(Redirect::to(&format!("/people/{}?done=outcome", segment(access.id()))).into_response())
}

#[derive(Deserialize)]
pub struct ConsentForm {
    pub scope: String,
    /// `grant` or `withdraw`.
    pub decision: String,
    #[serde(default)]
    pub note: String,
}

pub async fn consent(
    State(app): State<Shared>,
    access: PersonAccess,
    Form(f): Form<ConsentForm>,
) -> Result<Response, AppError> {
    let granted = match f.decision.as_str() {
        "grant" => true,
        "withdraw" => false,
        d => {
            return Err(AppError::new(
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("decision {d:?} is neither grant nor withdraw"),
            ));
        }
    };
    ops::record_consent(
        &app,
        &access.auth,
        &access.run,
        access.person,
        &f.scope,
        granted,
        &f.note,
    )
    .await?;
    Ok(Redirect::to(&format!("/people/{}?done=consent", segment(access.id()))).into_response())
}

pub async fn overview(
    State(app): State<Shared>,
    access: AggregateAccess,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, AppError> {
    let filter = q.filter.unwrap_or_default();
    let o = ops::overview(&app, &access.auth, &access.run, &filter).await?;
    Ok(Html(
        pages::overview(&frame(&app, &access.auth, "/overview"), &o, &filter).into_string(),
    ))
}

pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        pages::STYLE,
    )
        .into_response()
}
