//! `POST /v1/scan`: an audio file in (the raw body, or the first file of a
//! multipart form), the JSON of `dfd scan --json` out.

use std::time::Instant;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State as Extract};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use dfd_decode::Decoder;

use super::{ApiError, State};
use crate::scan::{score_decoded, Budget, Keep, ScoreError};

/// The `file` of a `dfd scan --json` answer for an upload without a file name.
const UNNAMED: &str = "upload";

pub async fn scan(Extract(state): Extract<State>, request: Request) -> impl IntoResponse {
    let started = Instant::now();
    let result = scan_request(&state, request).await;
    state.telemetry.done("scan", started, result.is_ok());
    result
}

async fn scan_request(state: &State, request: Request) -> Result<impl IntoResponse, ApiError> {
    let _slot = state.slot()?;
    let deadline = state.deadline();
    let (name, bytes) = upload(state, request).await?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no audio: send a file as the body, or as a multipart form field",
        ));
    }
    let model = state.model.clone();
    let budget = Budget {
        max_seconds: state.limits.max_audio_seconds,
        deadline: Some(deadline),
    };
    let limit = state.limits.total_timeout;
    // Decoding and inference are CPU work: off the async threads.
    let scored = tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || {
            let decoder = Decoder::from_bytes(bytes.into())?;
            score_decoded(
                &model,
                decoder,
                Keep {
                    timeline: true,
                    envelope: false,
                },
                budget,
                // Requests run side by side: one thread each.
                0,
            )
        }),
    )
    .await;
    let result = match scored {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the file could not be scored: {panic}"),
            ))
        }
        Err(_) => Err(ScoreError::TimedOut),
    }
    .map_err(|e| score_error(e, name.as_deref().unwrap_or(UNNAMED)))?;
    state.telemetry.windows(result.read_windows);
    Ok(Json(
        result.json(name.as_deref().unwrap_or(UNNAMED), &state.model),
    ))
}

/// The refusal of a file that was not scored.
pub fn score_error(e: ScoreError, file: &str) -> ApiError {
    let status = match e {
        ScoreError::TooLong(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ScoreError::TimedOut => StatusCode::REQUEST_TIMEOUT,
        ScoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, format!("{file}: {e}"))
}

/// The uploaded file's name (multipart only) and bytes, within the size limit.
async fn upload(state: &State, request: Request) -> Result<(Option<String>, Bytes), ApiError> {
    let limit = state.limits.max_upload_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload is larger than {limit} bytes"),
        )
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let body: Body = request.into_body();
        return to_bytes(body, limit)
            .await
            .map(|b| (None, b))
            .map_err(|_| too_large());
    }
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(
            e.status(),
            format!("bad multipart upload: {}", e.body_text()),
        )
    };
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if field.file_name().is_none() && field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(bad)?;
        return Ok((name, bytes));
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "the multipart form holds no file (send it as a field named \"file\")",
    ))
}
