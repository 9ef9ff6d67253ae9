//! `GET /v1/live`: live scoring over a WebSocket, one stream per connection.
//!
//! The protocol, in order:
//! 1. the client sends a text message `{"sample_rate": 16000, "channels": 1,
//!    "format": "s16le"}` (`"f32le"` for float samples), answered with
//!    `{"type": "ready", ...}`;
//! 2. then binary messages of interleaved little-endian PCM, whole frames;
//!    each window they complete is scored in the next round of the
//!    [`Batcher`] (all open streams together, every tick) and answered with
//!    one `{"type": "window", ...}`;
//! 3. the text message `{"type": "end"}` scores the rest and is answered with
//!    `{"type": "result", ...}`, the object of `dfd scan --json`; the server
//!    then closes.
//!
//! Any refusal is `{"type": "error", "error", "status"}` (a 4xx status, as
//! over HTTP) and the server closes. [`LiveSession`] is the whole per-stream
//! logic, apart from the socket; [`serve_socket`] only carries its messages.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dfd::Model;
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedSemaphorePermit;

use super::batcher::{Batcher, LiveStream};
use super::{ApiError, Limits, State};
use crate::results::{verdict_key, ScanJson};
use crate::scan::{Budget, Keep, Scorer};

/// The `file` of a live stream's result.
const LIVE_FILE: &str = "live";

/// How the client's PCM is laid out (its first message).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveFormat {
    pub sample_rate: u32,
    pub channels: u32,
    pub format: SampleFormat,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum SampleFormat {
    /// Signed 16-bit integers, little-endian.
    #[serde(rename = "s16le")]
    S16le,
    /// 32-bit IEEE floats, little-endian, nominally in [-1, 1].
    #[serde(rename = "f32le")]
    F32le,
}

impl SampleFormat {
    fn bytes(self) -> usize {
        match self {
            SampleFormat::S16le => 2,
            SampleFormat::F32le => 4,
        }
    }
}

/// A control message after the format: only `{"type": "end"}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Control {
    End,
}

/// What the server sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Reply {
    Ready {
        model: String,
        threshold: f32,
    },
    /// One scored window, with the stream's score after the round that
    /// scored it and the count of windows up to this one.
    Window {
        start: f64,
        end: f64,
        p_fake: f32,
        stream_p_fake: f32,
        verdict: &'static str,
        windows: u64,
    },
    Result(ScanJson),
}

/// One live stream: waits for its format, then pushes the PCM it gets into
/// a deferred stream that the [`Batcher`] scores.
pub struct LiveSession {
    model: Model,
    budget: Budget,
    batcher: Arc<Batcher>,
    phase: Phase,
    /// Windows scored so far, for the metrics.
    pub windows_scored: u64,
}

enum Phase {
    AwaitingFormat,
    Streaming {
        live: Arc<LiveStream>,
        format: LiveFormat,
    },
}

/// What a message leads to.
pub enum Step {
    Continue(Vec<Reply>),
    /// The stream is over: the last replies, the result last.
    Done(Vec<Reply>),
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// The window replies of `fresh`, the windows `scorer` just scored.
fn window_replies(scorer: &Scorer, fresh: &[dfd::WindowScore]) -> Vec<Reply> {
    let Some(score) = scorer.score() else {
        return Vec::new();
    };
    let first = score.windows - fresh.len() as u64;
    fresh
        .iter()
        .zip(first + 1..)
        .map(|(w, windows)| Reply::Window {
            start: w.start,
            end: w.end,
            p_fake: w.p_fake,
            stream_p_fake: score.p_fake,
            verdict: verdict_key(score.verdict),
            windows,
        })
        .collect()
}

impl LiveSession {
    pub fn new(model: &Model, budget: Budget, batcher: Arc<Batcher>) -> Self {
        LiveSession {
            model: model.clone(),
            budget,
            batcher,
            phase: Phase::AwaitingFormat,
            windows_scored: 0,
        }
    }

    /// The stream the batcher scores, once the format is known.
    pub fn live(&self) -> Option<Arc<LiveStream>> {
        match &self.phase {
            Phase::Streaming { live, .. } => Some(Arc::clone(live)),
            Phase::AwaitingFormat => None,
        }
    }

    pub fn on_text(&mut self, text: &str) -> Result<Step, ApiError> {
        match &mut self.phase {
            Phase::AwaitingFormat => {
                let format: LiveFormat = serde_json::from_str(text).map_err(|e| {
                    bad_request(format!(
                        "the first message must be the PCM format, \
                         {{\"sample_rate\", \"channels\", \"format\": \"s16le\" or \"f32le\"}}: {e}"
                    ))
                })?;
                let mut scorer = Scorer::new(
                    &self.model,
                    Keep {
                        timeline: true,
                        envelope: false,
                    },
                );
                // An empty push opens the stream: libdfd checks the rate and channels.
                scorer
                    .push(&[], format.sample_rate, format.channels)
                    .map_err(bad_request)?;
                if let Some(stream) = scorer.stream_mut() {
                    stream
                        .set_deferred(true)
                        .map_err(|e| bad_request(e.to_string()))?;
                }
                let live = self.batcher.join(scorer);
                self.phase = Phase::Streaming { live, format };
                Ok(Step::Continue(vec![Reply::Ready {
                    model: self.model.manifest().name.clone(),
                    threshold: self.model.manifest().threshold,
                }]))
            }
            Phase::Streaming { .. } => {
                let Control::End = serde_json::from_str(text).map_err(|e| {
                    bad_request(format!("expected {{\"type\": \"end\"}} or binary PCM: {e}"))
                })?;
                self.finish().map(Step::Done)
            }
        }
    }

    /// Pushes one message of PCM; CPU work (the front end, and inference
    /// when a stream holds a full batch), run off the async threads.
    pub fn on_binary(&mut self, bytes: &[u8]) -> Result<Step, ApiError> {
        let Phase::Streaming { live, format } = &mut self.phase else {
            return Err(bad_request(
                "send the PCM format as the first (text) message",
            ));
        };
        let frame = format.format.bytes() * format.channels as usize;
        if bytes.len() % frame != 0 {
            return Err(bad_request(format!(
                "a message must hold whole frames ({frame} bytes each), not {} bytes",
                bytes.len()
            )));
        }
        let samples: Vec<f32> = match format.format {
            SampleFormat::S16le => bytes
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
                .collect(),
            SampleFormat::F32le => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        };
        let mut guard = live.scorer();
        let scorer = guard.as_mut().expect("open until finished");
        // A stream holding a full batch scores it itself: those come back now.
        let fresh = scorer
            .push(&samples, format.sample_rate, format.channels)
            .map_err(bad_request)?
            .to_vec();
        self.budget
            .check(scorer.seconds())
            .map_err(|e| super::api::score_error(e, LIVE_FILE))?;
        self.windows_scored = scorer.score().map_or(0, |s| s.windows);
        Ok(Step::Continue(window_replies(scorer, &fresh)))
    }

    /// The windows the batcher scored since the last call.
    pub fn on_scored(&mut self) -> Vec<Reply> {
        let Some(live) = self.live() else {
            return Vec::new();
        };
        let mut guard = live.scorer();
        let Some(scorer) = guard.as_mut() else {
            return Vec::new();
        };
        let fresh = scorer.take_scored().to_vec();
        self.windows_scored = scorer.score().map_or(0, |s| s.windows);
        window_replies(scorer, &fresh)
    }

    /// Scores what is left: the last windows, then the stream's result.
    pub fn finish(&mut self) -> Result<Vec<Reply>, ApiError> {
        let Phase::Streaming { live, .. } =
            std::mem::replace(&mut self.phase, Phase::AwaitingFormat)
        else {
            return Err(bad_request("the stream ended before its format was sent"));
        };
        let mut scorer = live.scorer().take().expect("open until finished");
        // The windows no round scored yet, scored now.
        if let Some(stream) = scorer.stream_mut() {
            stream
                .set_deferred(false)
                .map_err(|e| bad_request(e.to_string()))?;
        }
        let fresh = scorer.take_scored().to_vec();
        let mut replies = window_replies(&scorer, &fresh);
        let result = scorer.finish().map_err(bad_request)?;
        self.windows_scored = result.score.windows;
        replies.push(Reply::Result(result.json(LIVE_FILE, &self.model)));
        Ok(replies)
    }
}

/// Takes a slot (429 before the upgrade when none is free), then upgrades.
pub async fn upgrade(Extract(state): Extract<State>, ws: WebSocketUpgrade) -> Response {
    let slot = match state.slot() {
        Ok(slot) => slot,
        Err(e) => {
            state.telemetry.done("live", Instant::now(), false);
            return e.into_response();
        }
    };
    let limit = state.limits.max_upload_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| serve_socket(socket, state, slot))
}

/// Carries one connection's messages to its [`LiveSession`] and back,
/// within the idle and total timeouts.
async fn serve_socket(mut socket: WebSocket, state: State, slot: OwnedSemaphorePermit) {
    let started = Instant::now();
    let Limits {
        idle_timeout,
        total_timeout,
        max_audio_seconds,
        ..
    } = state.limits;
    let deadline = tokio::time::Instant::from_std(started + total_timeout);
    let mut session = LiveSession::new(
        &state.model,
        Budget {
            max_seconds: max_audio_seconds,
            deadline: Some(started + total_timeout),
        },
        Arc::clone(&state.batcher),
    );
    let mut last_message = tokio::time::Instant::now();
    let outcome: Result<Vec<Reply>, ApiError> = loop {
        let wake = deadline.min(last_message + idle_timeout);
        let live = session.live();
        let scored = async {
            match &live {
                Some(live) => live.scored.notified().await,
                None => std::future::pending().await,
            }
        };
        // A message from the client, or `None` when a round scored windows.
        let received = tokio::select! {
            received = tokio::time::timeout_at(wake, socket.recv()) => Some(received),
            () = scored => None,
        };
        let Some(received) = received else {
            let replies = tokio::task::block_in_place(|| session.on_scored());
            if send_all(&mut socket, &replies).await.is_err() {
                break Ok(Vec::new());
            }
            continue;
        };
        last_message = tokio::time::Instant::now();
        let msg = match received {
            Err(_) => {
                let what = if wake == deadline {
                    format!(
                        "the stream ran past the {} s allowed",
                        total_timeout.as_secs()
                    )
                } else {
                    format!("no message for {} s", idle_timeout.as_secs())
                };
                break Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, what));
            }
            // The client went away: nobody to answer.
            Ok(None) | Ok(Some(Err(_))) => break Ok(Vec::new()),
            Ok(Some(Ok(msg))) => msg,
        };
        let step = match msg {
            Message::Text(text) => session.on_text(&text),
            Message::Binary(bytes) => tokio::task::block_in_place(|| session.on_binary(&bytes)),
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => break Ok(Vec::new()),
        };
        match step {
            Ok(Step::Continue(replies)) => {
                if send_all(&mut socket, &replies).await.is_err() {
                    break Ok(Vec::new());
                }
            }
            Ok(Step::Done(replies)) => break Ok(replies),
            Err(e) => break Err(e),
        }
    };
    // Free before the last message: a client that reconnects on it finds the slot.
    drop(slot);
    state.telemetry.windows(session.windows_scored);
    let ok = outcome.is_ok();
    match &outcome {
        Ok(replies) => {
            let _ = send_all(&mut socket, replies).await;
        }
        Err(e) => {
            let _ = send(&mut socket, &e.live_json()).await;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    state.telemetry.done("live", started, ok);
}

async fn send(socket: &mut WebSocket, text: &str) -> Result<(), axum::Error> {
    socket.send(Message::Text(text.into())).await
}

async fn send_all(socket: &mut WebSocket, replies: &[Reply]) -> Result<(), axum::Error> {
    for reply in replies {
        send(socket, &serde_json::to_string(reply).expect("serialisable")).await?;
    }
    Ok(())
}

impl ApiError {
    /// The error as a live-stream message: `{"type": "error", "error", "status"}`.
    fn live_json(&self) -> String {
        serde_json::json!({
            "type": "error",
            "error": self.message,
            "status": self.status.as_u16(),
        })
        .to_string()
    }
}
