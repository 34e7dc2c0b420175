//! Jobs: one by id, the caller's jobs newest first (by status and creation time), canceling
//! one and deleting one.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;

use crate::App;
use crate::domain::ids::JobId;
use crate::domain::jobs::JobStatus;
use crate::http::auth::{Authorized, scope};
use crate::http::views::{JobList, JobView};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::store::{JobCursor, JobFilter};
use crate::usecases::jobs;

pub const DEFAULT_PAGE: usize = 20;
pub const MIN_PAGE: usize = 1;
pub const MAX_PAGE: usize = 100;
/// A cursor is where a page ended: the last job's creation time (20 decimal digits of
/// microseconds) and id (32 hex digits). Plain text, so its shape is a pattern clients and the
/// document can state; any cursor of this shape is a position in the list.
pub const CURSOR_PATTERN: &str = "^[0-9]{20}[0-9a-f]{32}$";

/// A job of the caller's tenant. Another tenant's job is indistinguishable from a missing one.
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "job id (`job_` and 32 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = JobView, description = "the job; `images` once it succeeded"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn get_job(
    State(app): State<App>,
    auth: Authorized<scope::JobsRead>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let job_id = path_job_id(id)?;
    let job = jobs::get(&app, &auth.caller.tenant, &job_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(JobView::render(&job)))
}

pub(super) fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such job")
}

/// The job id of the path; a segment that is not even UTF-8 is as malformed as any other id
/// that is not ours.
pub(super) fn path_job_id(id: Result<Path<String>, PathRejection>) -> Result<JobId, ApiError> {
    id.ok()
        .and_then(|Path(id)| JobId::parse(&id))
        .ok_or_else(|| not_found().with_detail("id", "malformed"))
}

/// Cancels a job of the caller's tenant. A queued job (or one no worker holds) ends
/// `canceled` at once: 200, everything refunded. A running job is told to stop: 202, and it
/// ends `canceled` within seconds, keeping (and charging) the images it delivered. A job that
/// already ended is returned as it is (200).
#[utoipa::path(
    post, path = "/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "job id (`job_` and 32 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = JobView, description = "the job has ended (canceled now, or before)"),
        (status = 202, body = JobView, description = "the running job was told to stop; poll it"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn cancel_job(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let job_id = path_job_id(id)?;
    let job = jobs::cancel(&app, &auth.caller.tenant, &job_id)
        .await?
        .ok_or_else(not_found)?;
    let status = if job.status.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let shown = jobs::with_downloads(&app, job).await?;
    Ok((status, Json(JobView::render(&shown))).into_response())
}

/// Deletes a finished job of the caller's tenant: its images and prepared reference images
/// from storage, then its record. Idempotent: a job that is not there (deleted before, never
/// created, another tenant's) answers 204 too. A job still queued or running is refused (409):
/// cancel it first.
#[utoipa::path(
    delete, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "job id (`job_` and 32 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "the job and its images are gone"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope, description = "the id is not a job id"),
        (status = 409, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn delete_job(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let job_id = path_job_id(id)?;
    jobs::delete(&app, &auth.caller.tenant, &job_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of `GET /v1/jobs`, as documented; [`list_query`] reads it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Jobs per page, 1..=100 (default 20).
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// Only jobs in this status.
    pub status: Option<String>,
    /// Only jobs created at or after this time (RFC 3339).
    pub created_after: Option<String>,
    /// Only jobs created before this time (RFC 3339).
    pub created_before: Option<String>,
}

/// The caller's jobs, newest first; optionally those in one status, created within a range.
/// The filters stay the same from page to page: pass them with each `cursor`. With `status`, a
/// page may hold fewer jobs than `limit`, even none: follow `next_cursor` until it is absent.
#[utoipa::path(
    get, path = "/v1/jobs", tag = "jobs",
    params(ListQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = JobList, description = "a page of jobs, newest first"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn list_jobs(
    State(app): State<App>,
    auth: Authorized<scope::JobsRead>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let query = list_query(query)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let filter = JobFilter {
        // Checked by `list_query`.
        status: query.status.as_deref().and_then(JobStatus::parse),
        created_after: query.created_after.as_deref().and_then(parse_time),
        created_before: query.created_before.as_deref().and_then(parse_time),
    };
    let (page, next) =
        jobs::list(&app, &auth.caller.tenant, limit, &filter, cursor.as_ref()).await?;
    Ok(Json(JobList {
        jobs: page.iter().map(JobView::render).collect(),
        next_cursor: next.as_ref().map(encode_cursor),
    }))
}

pub fn limit_rule() -> String {
    format!("must be an integer between {MIN_PAGE} and {MAX_PAGE}")
}

/// Reads the query by hand, so every problem is told in the parameter's terms.
fn list_query(
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<ListQuery, ApiError> {
    let Query(pairs) = query.map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "the query string is not valid percent-encoded UTF-8",
        )
        .with_detail("query", "invalid")
    })?;
    let mut out = ListQuery::default();
    let mut err = ApiError::new(ErrorCode::InvalidRequest, "the query is invalid");
    for (name, value) in pairs {
        match name.as_str() {
            "limit" if out.limit.is_some() => {
                err.add_problem("limit", "repeated", "limit: given more than once")
            }
            "limit" => match value.parse::<usize>() {
                Ok(n) if (MIN_PAGE..=MAX_PAGE).contains(&n) => out.limit = Some(n),
                Ok(_) => {
                    err.add_problem("limit", "out_of_range", format!("limit: {}", limit_rule()))
                }
                Err(_) => {
                    err.add_problem("limit", "invalid_type", format!("limit: {}", limit_rule()))
                }
            },
            "cursor" if out.cursor.is_some() => {
                err.add_problem("cursor", "repeated", "cursor: given more than once")
            }
            "cursor" => out.cursor = Some(value),
            "status" | "created_after" | "created_before" => {
                let slot = match name.as_str() {
                    "status" => &mut out.status,
                    "created_after" => &mut out.created_after,
                    _ => &mut out.created_before,
                };
                if slot.is_some() {
                    err.add_problem(&name, "repeated", format!("{name}: given more than once"));
                    continue;
                }
                let valid = if name == "status" {
                    JobStatus::parse(&value).is_some()
                } else {
                    parse_time(&value).is_some()
                };
                if valid {
                    *slot = Some(value);
                } else if name == "status" {
                    let known = JobStatus::ALL.map(JobStatus::as_str).join(", ");
                    err.add_problem(
                        &name,
                        "invalid_value",
                        format!("status: must be one of {known}"),
                    );
                } else {
                    err.add_problem(
                        &name,
                        "invalid_value",
                        format!("{name}: must be an RFC 3339 time, like 2026-11-30T12:00:00Z"),
                    );
                }
            }
            other => err.add_problem(
                other,
                "unknown_parameter",
                format!(
                    "{other}: not a parameter of this operation (known: limit, cursor, status, \
                     created_after, created_before)"
                ),
            ),
        }
    }
    // A range that holds nothing (after >= before) is valid, and lists nothing: the document
    // cannot state a rule across two parameters, so the server does not make one.
    if err.details.is_empty() {
        Ok(out)
    } else {
        Err(err)
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

pub fn encode_cursor(cursor: &JobCursor) -> String {
    cursor.created_sort.replacen("#job_", "", 1)
}

fn decode_cursor(raw: &str) -> Result<JobCursor, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "cursor: must be a `next_cursor` this API returned (20 digits and 32 hex digits)",
        )
        .with_detail("cursor", "invalid")
    };
    let (micros, id) = raw.split_at_checked(20).ok_or_else(bad)?;
    if !micros.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // `<20 digits>#job_<32 hex>`, as `Job::created_sort` writes it.
    let job_id = JobId::parse(&format!("{}{id}", JobId::PREFIX)).ok_or_else(bad)?;
    Ok(JobCursor {
        created_sort: format!("{micros}#{job_id}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let sort = format!("{:020}#job_{}", 1_764_151_200_000_000u64, "ab".repeat(16));
        let cursor = JobCursor {
            created_sort: sort.clone(),
        };
        let text = encode_cursor(&cursor);
        assert_eq!(text.len(), 52);
        assert_eq!(decode_cursor(&text).unwrap().created_sort, sort);
        for bad in [
            "",
            "x",
            &text[1..],
            &text.to_uppercase(),
            &format!("{text}0"),
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
