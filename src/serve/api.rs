//! The JSON API: the same operations as the pages (`ops.rs`), the same
//! extractors, the same audit rows. Described in `openapi.json` (served at
//! `/api/openapi.json`). Log in with `POST /api/login`; it sets the session
//! cookie and returns the CSRF token every `POST` must send as `X-CSRF-Token`.

use super::auth::{AggregateAccess, AppError, Auth, ClinicAccess, PersonAccess};
use super::handlers::{LoginResult, end_session, session_cookie, try_login};
use super::{Shared, ops};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The OpenAPI description (kept in the repository beside this file).
pub const OPENAPI: &str = include_str!("openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Deserialize)]
pub struct Login {
    pub user: String,
    pub password: String,
}

pub async fn login(
    State(app): State<Shared>,
    axum::Extension(addr): axum::Extension<super::auth::Address>,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(l) = body.map_err(|e| AppError::new(true, StatusCode::BAD_REQUEST, e.body_text()))?;
    match try_login(&app, l.user.trim(), &l.password, &addr.0)
        .await
        .map_err(|e| AppError::internal(true, e))?
    {
        LoginResult::Ok { token, csrf, user } => Ok((
            [(
                header::SET_COOKIE,
                session_cookie(&app, &token, app.config.session.as_secs() as i64),
            )],
            Json(json!({
                "user": user.name, "role": user.role.as_str(), "clinics": user.clinics,
                "language": user.language, "csrf": csrf,
                "expires_in": app.config.session.as_secs(),
            })),
        )
            .into_response()),
        LoginResult::Refused => Err(AppError::new(
            true,
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        )),
        LoginResult::Limited => {
            let mut r = AppError::new(
                true,
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins: wait 15 minutes",
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, "900".parse().expect("a header value"));
            Ok(r)
        }
    }
}

pub async fn logout(State(app): State<Shared>, auth: Auth) -> Result<Response, AppError> {
    end_session(&app, &auth).await?;
    Ok((
        [(header::SET_COOKIE, session_cookie(&app, "", 0))],
        Json(json!({"logged_out": true})),
    )
        .into_response())
}

pub async fn me(auth: Auth) -> Json<serde_json::Value> {
    Json(json!({
        "user": auth.user.name, "role": auth.user.role.as_str(), "clinics": auth.user.clinics,
        "language": auth.user.language, "csrf": auth.csrf,
    }))
}

pub async fn run_info(State(app): State<Shared>, _auth: Auth) -> Json<serde_json::Value> {
    let run = app.run.load_full();
    Json(json!({
        "as_of": run.as_of_text, "library_hash": run.library_hash, "clinics": run.clinics,
        "extra_columns": run.extra_columns,
    }))
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
    pub filter: Option<String>,
}

pub async fn list(
    State(app): State<Shared>,
    access: ClinicAccess,
    Query(q): Query<PageQuery>,
) -> Result<Json<ops::ListPage>, AppError> {
    Ok(Json(
        ops::list_page(
            &app,
            &access.auth,
            &access.run,
            access.clinic,
            q.page,
            q.per_page,
        )
        .await?,
    ))
}

pub async fn person(
    State(app): State<Shared>,
    access: PersonAccess,
) -> Result<Json<ops::PersonDetail>, AppError> {
    Ok(Json(
        ops::person(&app, &access.auth, &access.run, access.person).await?,
    ))
}

/// `POST /api/people/{id}/reveal`: the original identifier (audited).
pub async fn reveal(
    State(app): State<Shared>,
    access: PersonAccess,
) -> Result<Json<serde_json::Value>, AppError> {
    let original = ops::reveal(&app, &access.auth, &access.run, access.person).await?;
    Ok(Json(
        json!({"patient_id": access.id(), "original_id": original}),
    ))
}

#[derive(Deserialize)]
pub struct NewOutcome {
    pub outcome: String,
    pub criterion: Option<String>,
    #[serde(default)]
    pub note: String,
}

pub async fn outcome(
    State(app): State<Shared>,
    access: PersonAccess,
    body: Result<Json<NewOutcome>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(o) = body.map_err(|e| AppError::new(true, StatusCode::BAD_REQUEST, e.body_text()))?;
    let row = ops::record_outcome(
        &app,
        &access.auth,
        &access.run,
        access.person,
        &o.outcome,
        o.criterion.as_deref(),
        &o.note,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": row.id, "patient_id": row.patient_id, "outcome": row.outcome,
            "criterion": row.criterion_id, "day": row.day, "time": row.time,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct NewConsent {
    pub scope: String,
    pub granted: bool,
    #[serde(default)]
    pub note: String,
}

pub async fn consent(
    State(app): State<Shared>,
    access: PersonAccess,
    body: Result<Json<NewConsent>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(c) = body.map_err(|e| AppError::new(true, StatusCode::BAD_REQUEST, e.body_text()))?;
    let row = ops::record_consent(
        &app,
        &access.auth,
        &access.run,
        access.person,
        &c.scope,
        c.granted,
        &c.note,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": row.id, "patient_id": row.patient_id, "scope": row.scope,
            "granted": row.granted, "day": row.day, "time": row.time,
        })),
    )
        .into_response())
}

pub async fn overview(
    State(app): State<Shared>,
    access: AggregateAccess,
    Query(q): Query<PageQuery>,
) -> Result<Json<ops::Overview>, AppError> {
    Ok(Json(
        ops::overview(
            &app,
            &access.auth,
            &access.run,
            q.filter.as_deref().unwrap_or(""),
        )
        .await?,
    ))
}
