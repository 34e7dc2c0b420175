//! Reading jobs: one by id, or the caller's jobs newest first.

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::App;
use crate::domain::ids::JobId;
use crate::http::auth::{Authorized, scope};
use crate::http::views::{JobList, JobView};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::store::JobCursor;

/// A job of the caller's tenant. Another tenant's job is indistinguishable from a missing one.
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "job id (`job_…`)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
    )
)]
pub async fn get_job(
    State(app): State<App>,
    auth: Authorized<scope::JobsRead>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such job");
    let job_id = JobId::parse(&id).ok_or_else(|| not_found().with_detail("id", "malformed"))?;
    let job = app
        .store
        .get_job(&job_id)
        .await?
        .filter(|job| job.tenant == auth.caller.tenant)
        .ok_or_else(not_found)?;
    Ok(Json(JobView::render(&app, &job).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1..=100, default 20.
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// The caller's jobs, newest first.
#[utoipa::path(
    get, path = "/v1/jobs", tag = "jobs",
    params(ListQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = JobList),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
    )
)]
pub async fn list_jobs(
    State(app): State<App>,
    auth: Authorized<scope::JobsRead>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(ErrorCode::InvalidRequest, e.body_text()).with_detail("query", "invalid")
    })?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::new(ErrorCode::InvalidRequest, "limit must be 1..=100")
                .with_detail("limit", "out_of_range"),
        );
    }
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let (jobs, next) = app
        .store
        .list_jobs(&auth.caller.tenant, limit, cursor.as_ref())
        .await?;
    let mut views = Vec::with_capacity(jobs.len());
    for job in &jobs {
        views.push(JobView::render(&app, job).await?);
    }
    Ok(Json(JobList {
        jobs: views,
        next_cursor: next.as_ref().map(encode_cursor),
    }))
}

pub fn encode_cursor(cursor: &JobCursor) -> String {
    URL_SAFE_NO_PAD.encode(cursor.created_sort.as_bytes())
}

fn decode_cursor(raw: &str) -> Result<JobCursor, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "cursor is not one this API returned",
        )
        .with_detail("cursor", "invalid")
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let created_sort = String::from_utf8(bytes).map_err(|_| bad())?;
    // `<20 digits>#job_<32 hex>`, as `Job::created_sort` writes it.
    let (micros, id) = created_sort.split_once('#').ok_or_else(bad)?;
    if micros.len() != 20
        || !micros.bytes().all(|b| b.is_ascii_digit())
        || JobId::parse(id).is_none()
    {
        return Err(bad());
    }
    Ok(JobCursor { created_sort })
}
