//! Reading jobs: one by id, or the caller's jobs newest first.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::App;
use crate::domain::ids::JobId;
use crate::http::auth::{Authorized, scope};
use crate::http::views::{JobList, JobView};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::store::JobCursor;
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
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such job");
    // A segment that is not even UTF-8 is as malformed as any other id that is not ours.
    let job_id = id
        .ok()
        .and_then(|Path(id)| JobId::parse(&id))
        .ok_or_else(|| not_found().with_detail("id", "malformed"))?;
    let job = jobs::get(&app, &auth.caller.tenant, &job_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(JobView::render(&job)))
}

/// The query of `GET /v1/jobs`, as documented; [`list_query`] reads it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Jobs per page, 1..=100 (default 20).
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
    let (page, next) = jobs::list(&app, &auth.caller.tenant, limit, cursor.as_ref()).await?;
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
            other => err.add_problem(
                other,
                "unknown_parameter",
                format!("{other}: not a parameter of this operation (known: limit, cursor)"),
            ),
        }
    }
    if err.details.is_empty() {
        Ok(out)
    } else {
        Err(err)
    }
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
