//! `GET /v1/referrals/{id}/progress.csv`: the session log and the outcome
//! measures as one CSV (RFC 4180) for the physio's own records
//! (docs/training.md, "Export").

use super::access::{CARE, for_roles};
use super::measures::{self, Outcomes, PsfsItem};
use super::sessions::{SessionRow, SessionView};
use crate::audit::{self, action};
use crate::schema::training_sessions;
use actix_web::http::header::{
    CacheControl, CacheDirective, ContentDisposition, DispositionParam, DispositionType,
};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use uuid::Uuid;

const HEADER: [&str; 11] = [
    "record",
    "at",
    "guidance_version",
    "exercises",
    "session_rpe",
    "pain_during",
    "pain_after_24h",
    "flare_signs",
    "occasion",
    "nprs",
    "psfs",
];

#[utoipa::path(
    get,
    path = "/v1/referrals/{referral_id}/progress.csv",
    tag = "training",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses(
        (status = 200, description = "Sessions (oldest first), then outcome measures, one row each", content_type = "text/csv", body = String),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn export(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let found = spotter_db::transaction(&mut conn, async |conn| {
        for_roles(conn, &caller, id, false, &CARE).await?;
        let sessions: Vec<SessionRow> = training_sessions::table
            .filter(training_sessions::referral_id.eq(id))
            .order((
                training_sessions::performed_at.asc(),
                training_sessions::id.asc(),
            ))
            .select(SessionRow::as_select())
            .load(conn)
            .await
            .map_err(db_error)?;
        let outcomes = measures::outcomes(conn, id).await?;
        audit::record(conn, &caller, action::PROGRESS_EXPORT, id)
            .await
            .map_err(db_error)?;
        Ok((sessions, outcomes))
    })
    .await;
    let (sessions, outcomes) = audit::refusal_recorded(&mut conn, &caller, id, found).await?;
    let sessions = sessions
        .into_iter()
        .map(SessionRow::view)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!("progress-{id}.csv"))],
        })
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .body(csv(&sessions, &outcomes)))
}

fn csv(sessions: &[SessionView], outcomes: &Outcomes) -> String {
    let mut out = String::new();
    line(&mut out, HEADER.map(str::to_owned));
    for s in sessions {
        let exercises: Vec<String> = s
            .exercises
            .iter()
            .map(|e| {
                let pattern = e.pattern.map(|p| format!(" ({p})")).unwrap_or_default();
                let load = e
                    .load_kg
                    .map(|kg| format!(" @ {} kg", kg.get()))
                    .unwrap_or_default();
                format!(
                    "{}{pattern} {}x{}{load}",
                    e.name.as_str(),
                    e.sets.get(),
                    e.reps.get()
                )
            })
            .collect();
        let signs: Vec<&str> = s.flare_signs.iter().map(|f| f.as_str()).collect();
        line(
            &mut out,
            [
                "session".to_owned(),
                s.performed_at.to_rfc3339(),
                s.guidance_version.to_string(),
                exercises.join("; "),
                s.session_rpe.to_string(),
                s.pain_during.to_string(),
                s.pain_after_24h.map(|p| p.to_string()).unwrap_or_default(),
                signs.join(" "),
                String::new(),
                String::new(),
                String::new(),
            ],
        );
    }
    let b = &outcomes.baseline;
    measure_line(&mut out, b.recorded_at, "baseline", b.nprs, &b.psfs);
    for m in &outcomes.measurements {
        measure_line(
            &mut out,
            m.recorded_at,
            m.occasion.as_str(),
            m.nprs,
            &m.psfs,
        );
    }
    out
}

fn measure_line(out: &mut String, at: DateTime<Utc>, occasion: &str, nprs: i16, psfs: &[PsfsItem]) {
    let psfs: Vec<String> = psfs
        .iter()
        .map(|p| format!("{}: {}", p.activity.as_str(), p.score.get()))
        .collect();
    let mut cells = [const { String::new() }; 11];
    cells[0] = "measure".to_owned();
    cells[1] = at.to_rfc3339();
    cells[8] = occasion.to_owned();
    cells[9] = nprs.to_string();
    cells[10] = psfs.join("; ");
    line(out, cells);
}

fn line<const N: usize>(out: &mut String, fields: [String; N]) {
    let cells: Vec<String> = fields.iter().map(|f| cell(f)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One RFC 4180 field. Text a spreadsheet would run as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return: a trainer
/// names exercises freely) is prefixed with `'`, as OWASP advises for CSV
/// injection; then anything with a comma, a quote or a line break is quoted.
fn cell(text: &str) -> String {
    let mut text = text.to_owned();
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        text.insert(0, '\'');
    }
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be_and_formulas_are_defused() {
        assert_eq!(cell("split squat"), "split squat");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("the \"good\" one"), "\"the \"\"good\"\" one\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell(""), "");
    }
}
