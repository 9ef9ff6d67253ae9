//! `dfd serve`: a local HTTP service around one loaded model.
//!
//! Routes: the page at `/` ([`PAGE`]), `POST /v1/scan` ([`api`]), the live
//! WebSocket `/v1/live` ([`live`], its streams scored together by the
//! [`batcher`]), `GET /healthz` and `GET /metrics` ([`telemetry`]). Every refusal is a JSON `{"error", "status"}` with a 4xx
//! status ([`ApiError`]); the limits are [`Limits`], set from the command line.

mod api;
mod batcher;
mod live;
mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dfd::Model;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::exit;
use crate::scan::load_model;
use crate::ServeArgs;

use telemetry::Telemetry;

/// The page: plain HTML and JS, no build step, nothing fetched from elsewhere.
const PAGE: &str = include_str!("page.html");

/// What one request or live stream may use; each is refused with a 4xx.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest upload (and largest live message), in bytes: 413.
    pub max_upload_bytes: usize,
    /// Longest audio, uploaded or streamed, in seconds: 413.
    pub max_audio_seconds: f64,
    /// Requests and live streams at once; more are refused with 429.
    pub max_concurrent: usize,
    /// A live stream silent (no message) this long is closed (408 in its error).
    pub idle_timeout: Duration,
    /// Wall-clock time for one request or live stream: 408.
    pub total_timeout: Duration,
}

/// What every handler shares: the model, loaded once, and the limits.
struct AppState {
    model: Model,
    limits: Limits,
    slots: Arc<Semaphore>,
    telemetry: Telemetry,
    /// Scores the live streams' windows together, every tick.
    batcher: Arc<batcher::Batcher>,
}

type State = Arc<AppState>;

impl AppState {
    /// A slot for one request or live stream, or 429 when all are taken.
    fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many concurrent requests (at most {}); try again shortly",
                    self.limits.max_concurrent
                ),
            )
        })
    }

    /// When a request or stream that starts now must be done.
    fn deadline(&self) -> Instant {
        Instant::now() + self.limits.total_timeout
    }
}

/// A refusal: its status and a message, sent as `{"error", "status"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
    status: u16,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn json(&self) -> String {
        serde_json::to_string(&ErrorJson {
            error: &self.message,
            status: self.status.as_u16(),
        })
        .expect("serialisable")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.json(),
        )
            .into_response()
    }
}

pub fn run(args: &ServeArgs) -> u8 {
    let model = match load_model(&args.model) {
        Ok(model) => model,
        Err(msg) => {
            eprintln!("dfd: {msg}");
            return exit::USAGE;
        }
    };
    let limits = Limits {
        max_upload_bytes: args.max_upload_mb.saturating_mul(1 << 20),
        max_audio_seconds: args.max_seconds,
        max_concurrent: args.max_concurrent as usize,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        total_timeout: Duration::from_secs(args.timeout),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dfd: cannot start the server: {e}");
            return exit::USAGE;
        }
    };
    let tick = Duration::from_millis(args.batch_tick_ms);
    match runtime.block_on(serve(model, limits, tick, args.listen)) {
        Ok(()) => exit::OK,
        Err(msg) => {
            eprintln!("dfd: {msg}");
            exit::USAGE
        }
    }
}

async fn serve(
    model: Model,
    limits: Limits,
    tick: Duration,
    listen: SocketAddr,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = Arc::new(AppState {
        telemetry: Telemetry::new(),
        slots: Arc::new(Semaphore::new(limits.max_concurrent)),
        batcher: Arc::new(batcher::Batcher::new(tick)),
        model,
        limits,
    });
    let counted = Arc::clone(&state);
    tokio::spawn(Arc::clone(&state.batcher).run(move |report| counted.telemetry.batched(report)));
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/healthz", get(healthz))
        .route("/metrics", get(telemetry::metrics))
        .route("/v1/scan", post(api::scan))
        .route("/v1/live", get(live::upgrade))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        // Multipart uploads are bounded by this; raw bodies by `api::scan` itself.
        .layer(DefaultBodyLimit::max(limits.max_upload_bytes))
        .with_state(state.clone());
    // Printed once bound, so that `--listen 127.0.0.1:0` tells its port.
    println!("dfd serve: listening on http://{addr}/");
    eprintln!(
        "dfd serve: model {} ({}, {})",
        state.model.manifest().name,
        state.model.backend_name(),
        state.model.precision().as_str()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the server stopped: {e}"))
}

/// `GET /healthz`: up, and which model it serves.
async fn healthz(axum::extract::State(state): axum::extract::State<State>) -> impl IntoResponse {
    let m = &state.model;
    Json(serde_json::json!({
        "status": "ok",
        "model": m.manifest().name,
        "backend": m.backend_name(),
        "precision": m.precision().as_str(),
    }))
}
