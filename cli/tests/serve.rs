//! `dfd serve`: the HTTP API through a real client, the live WebSocket
//! against `dfd scan`, the limits, and the page in headless Chromium.

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use common::*;

/// A `dfd serve` on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// `dfd serve --listen 127.0.0.1:0 --plugin-dir … <extra>` (the built-in model).
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dfd"))
            .env_remove("DFD_MODEL")
            .env_remove("DFD_PLUGIN_PATH")
            .args(["serve", "--listen", "127.0.0.1:0", "--plugin-dir"])
            .arg(plugin_dir())
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("runs dfd serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("dfd serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, url }
    }

    fn ws_url(&self) -> String {
        self.url.replace("http://", "ws://") + "/v1/live"
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn joe() -> PathBuf {
    repo().join("samples/synthetic_piper_joe.wav")
}

/// `dfd scan --json` of one file with the built-in model.
fn scan_json(file: &Path) -> Value {
    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--json"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
        file.as_os_str(),
    ]);
    assert_exit(&out, 0);
    json_lines(&out).remove(0)
}

/// Same scores, windows and timeline (the `file` key aside).
fn assert_same_scores(got: &Value, want: &Value) {
    for key in [
        "model",
        "backend",
        "precision",
        "verdict",
        "windows",
        "seconds",
    ] {
        assert_eq!(got[key], want[key], "{key}: {got} vs {want}");
    }
    assert!((p(got) - p(want)).abs() < 1e-6, "{got} vs {want}");
    let (a, b) = (
        got["timeline"].as_array().unwrap(),
        want["timeline"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["start"], y["start"]);
        assert!((p(x) - p(y)).abs() < 1e-6, "{x} vs {y}");
    }
}

async fn error_json(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{status}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    body["error"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_endpoint_answers_what_dfd_scan_answers() {
    let server = Server::start(&[]);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/scan", server.url);

    // A raw body.
    let wav = std::fs::read(joe()).unwrap();
    let response = http.post(&url).body(wav).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let got: Value = response.json().await.unwrap();
    assert_eq!(got["file"], "upload");
    assert_eq!(got["verdict"], "synthetic");
    assert_same_scores(&got, &scan_json(&joe()));

    // A multipart form, as the page and `curl -F` send: an M4A this time.
    let m4a = cli_fixture("speech_44k1_stereo.m4a");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(std::fs::read(&m4a).unwrap()).file_name("memo.m4a"),
    );
    let response = http.post(&url).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let got: Value = response.json().await.unwrap();
    assert_eq!(got["file"], "memo.m4a");
    assert_same_scores(&got, &scan_json(&m4a));

    // Health and metrics, counting what was just done.
    let health: Value = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "cpu");
    let metrics = http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("dfd_requests_total{endpoint=\"scan\"} 2"),
        "{metrics}"
    );
    let windows = got["windows"].as_u64().unwrap() + scan_json(&joe())["windows"].as_u64().unwrap();
    assert!(
        metrics.contains(&format!("dfd_windows_scored_total {windows}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("dfd_request_duration_seconds_count{endpoint=\"scan\"} 2"),
        "{metrics}"
    );
}

/// Reads a 16-bit WAV: rate, channels, interleaved samples.
fn read_wav(path: &Path) -> (u32, u16, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!(spec.bits_per_sample, 16);
    let samples = reader.samples::<i16>().map(Result::unwrap).collect();
    (spec.sample_rate, spec.channels, samples)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Socket) -> Value {
    loop {
        match ws.next().await.expect("a message").expect("no error") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn live_websocket_scores_equal_dfd_scan() {
    let server = Server::start(&[]);
    let (rate, channels, samples) = read_wav(&joe());
    // A quarter second per message, as a call would send it; every window
    // arrives after the message that completed it.
    let (windows, result) = live_call(server.ws_url(), rate, channels, samples).await;

    let want = scan_json(&joe());
    assert_same_scores(&result, &want);
    assert_eq!(result["file"], "live");
    // The windows streamed are the timeline, one message each, in order;
    // each carries the stream's running score.
    let timeline = want["timeline"].as_array().unwrap();
    assert_eq!(windows.len(), timeline.len());
    for (i, (w, t)) in windows.iter().zip(timeline).enumerate() {
        assert_eq!(w["start"], t["start"]);
        assert!((p(w) - p(t)).abs() < 1e-6, "{w} vs {t}");
        assert_eq!(w["windows"], i as u64 + 1);
    }
    assert!((windows.last().unwrap()["stream_p_fake"].as_f64().unwrap() - p(&want)).abs() < 1e-6);
}

/// One call over /v1/live: sends the clip in quarter-second messages, waits
/// for the first window's score (so a batcher round has run for this call),
/// then sends `end`; returns the windows streamed and the result.
async fn live_call(
    url: String,
    rate: u32,
    channels: u16,
    samples: Vec<i16>,
) -> (Vec<Value>, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        json!({"sample_rate": rate, "channels": channels, "format": "s16le"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "ready");
    let per_message = (rate / 4) as usize * channels as usize;
    for piece in samples.chunks(per_message) {
        let bytes: Vec<u8> = piece.iter().flat_map(|s| s.to_le_bytes()).collect();
        ws.send(Message::binary(bytes)).await.unwrap();
    }
    let first = next_json(&mut ws).await;
    assert_eq!(first["type"], "window", "{first}");
    let mut windows = vec![first];
    ws.send(Message::text(json!({"type": "end"}).to_string()))
        .await
        .unwrap();
    loop {
        let msg = next_json(&mut ws).await;
        match msg["type"].as_str().unwrap() {
            "window" => windows.push(msg),
            "result" => return (windows, msg),
            _ => panic!("unexpected {msg}"),
        }
    }
}

/// A counter's value in `/metrics` (OpenMetrics text: `<name>_total <v>`).
fn counter(metrics: &str, name: &str) -> f64 {
    let prefix = format!("{name}_total ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

/// Calls open at once are scored in shared backend batches (one round per
/// tick over every stream's held windows), and each still gets exactly the
/// scores `dfd scan` gives its audio alone.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_live_calls_share_backend_batches() {
    // A long tick, so that every call's windows are held in the same rounds.
    let server = Server::start(&["--batch-tick-ms", "250", "--max-concurrent", "8"]);
    let (rate, channels, samples) = read_wav(&joe());
    const CALLS: usize = 6;
    let calls: Vec<_> = (0..CALLS)
        .map(|_| tokio::spawn(live_call(server.ws_url(), rate, channels, samples.clone())))
        .collect();
    let want = scan_json(&joe());
    let timeline = want["timeline"].as_array().unwrap().len();
    for call in calls {
        let (windows, result) = call.await.unwrap();
        assert_same_scores(&result, &want);
        assert_eq!(windows.len(), timeline);
    }

    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scored = counter(&metrics, "dfd_windows_scored");
    let batched = counter(&metrics, "dfd_live_batched_windows");
    let backend_calls = counter(&metrics, "dfd_live_backend_calls");
    assert_eq!(scored, (CALLS * timeline) as f64, "{metrics}");
    // Windows completed while audio streams in go through the rounds
    // (those completed by `end` are scored by the stream's flush).
    assert!(batched >= CALLS as f64 && batched <= scored, "{metrics}");
    // Alone, each window would be one backend call; shared rounds need
    // fewer (the six calls' windows complete within the same ticks).
    assert!(
        backend_calls > 0.0 && backend_calls * 2.0 <= batched,
        "{backend_calls} backend calls for {batched} windows:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_and_bad_input_are_json_4xx() {
    let server = Server::start(&[
        "--max-upload-mb",
        "1",
        "--max-seconds",
        "2",
        "--max-concurrent",
        "1",
        "--idle-timeout",
        "1",
    ]);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/scan", server.url);

    let big = vec![0u8; (1 << 20) + 1];
    let msg = error_json(
        http.post(&url).body(big).send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(msg.contains("larger than"), "{msg}");

    // 3.9 s of speech against a 2 s limit.
    let long = std::fs::read(speech_wav()).unwrap();
    let msg = error_json(
        http.post(&url).body(long).send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(msg.contains("longer than 2 s"), "{msg}");

    error_json(
        http.post(&url).body(garbage(50_000)).send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // A WAV cut short inside its header, and nothing at all.
    let wav = std::fs::read(joe()).unwrap();
    error_json(
        http.post(&url)
            .body(wav[..30].to_vec())
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    error_json(
        http.post(&url).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    error_json(
        http.get(format!("{}/v2/nothing", server.url))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    // A live stream holds the only slot: a scan meanwhile is refused.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    ws.send(Message::text(
        json!({"sample_rate": 16000, "channels": 1, "format": "f32le"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "ready");
    let msg = error_json(
        http.post(&url).body(wav.clone()).send().await.unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    assert!(msg.contains("concurrent"), "{msg}");
    // Then it stays silent past the idle timeout, and is closed with a 408.
    let started = Instant::now();
    let err = next_json(&mut ws).await;
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(err["status"], 408, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Live protocol errors: PCM before the format, a bad format, half frames.
    for (first, second, want) in [
        (Message::binary(vec![0u8; 4]), None, "first (text) message"),
        (
            Message::text(json!({"sample_rate": 0, "channels": 1, "format": "s16le"}).to_string()),
            None,
            "sample rate",
        ),
        (
            Message::text(
                json!({"sample_rate": 8000, "channels": 2, "format": "s16le"}).to_string(),
            ),
            Some(Message::binary(vec![0u8; 6])),
            "whole frames",
        ),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .unwrap();
        ws.send(first).await.unwrap();
        let mut reply = next_json(&mut ws).await;
        if let Some(second) = second {
            assert_eq!(reply["type"], "ready");
            ws.send(second).await.unwrap();
            reply = next_json(&mut ws).await;
        }
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["status"], 400, "{reply}");
        assert!(reply["error"].as_str().unwrap().contains(want), "{reply}");
    }

    // Still serving after all that.
    let response = http.post(&url).body(wav[..].to_vec()).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "joe is longer than 2 s"
    );
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// A free loopback port (for chromedriver, which must be told one).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The few W3C WebDriver commands the page test needs, over reqwest (the
/// fantoccini crate would do it, but its ICU proc-macros change syn's
/// features and so rebuild the whole workspace).
struct WebDriver {
    http: reqwest::Client,
    session: String,
}

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebDriver {
    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/{path}", self.session);
        let mut request = self.http.request(method, &url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let v: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        v["value"].clone()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .command(
                reqwest::Method::POST,
                "element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: no element in {v}"))
            .to_string()
    }

    async fn text(&self, element: &str) -> String {
        let v = self
            .command(
                reqwest::Method::GET,
                &format!("element/{element}/text"),
                Value::Null,
            )
            .await;
        v.as_str().unwrap().to_string()
    }
}

/// The page in headless Chromium (Debian's `chromium` and
/// `chromium-driver`): pick samples/synthetic_piper_joe.wav, read the
/// verdict the page shows, save a screenshot.
#[tokio::test(flavor = "multi_thread")]
async fn page_scores_an_uploaded_file_in_headless_chromium() {
    let server = Server::start(&[]);
    let port = free_port();
    let _driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver package; .ci/run installs it)"),
    );
    let profile = scratch("chromium-profile");
    let capabilities = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1100,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    }}});
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen.
    let started = Instant::now();
    let session: Value = loop {
        match http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
        {
            Ok(r) => break r.json().await.unwrap(),
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver does not answer: {e}"),
        }
    };
    let id = session["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no WebDriver session: {session}"));
    let browser = WebDriver {
        http: http.clone(),
        session: format!("{base}/session/{id}"),
    };

    browser
        .command(reqwest::Method::POST, "url", json!({"url": server.url}))
        .await;
    let input = browser.find("#file").await;
    let file = joe().to_str().unwrap().to_string();
    browser
        .command(
            reqwest::Method::POST,
            &format!("element/{input}/value"),
            json!({"text": file}),
        )
        .await;
    // The verdict element gets its class when the answer is shown.
    let started = Instant::now();
    let verdict = loop {
        let found = browser
            .http
            .post(format!("{}/element", browser.session))
            .json(&json!({"using": "css selector",
                "value": "#verdict.synthetic, #verdict.bonafide, #verdict.unknown"}))
            .send()
            .await
            .unwrap();
        if found.status().is_success() {
            let v: Value = found.json().await.unwrap();
            break v["value"][ELEMENT_KEY].as_str().unwrap().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no verdict on the page after 60 s; status line: {:?}",
            browser.text(&browser.find("#status").await).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let shown = browser.text(&verdict).await;
    let pfake = browser.text(&browser.find("#pfake").await).await;
    let png = browser
        .command(reqwest::Method::GET, "screenshot", Value::Null)
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    let out = scratch("serve-page").join("page.png");
    std::fs::write(&out, &png).unwrap();
    eprintln!("screenshot: {}", out.display());
    browser.http.delete(&browser.session).send().await.unwrap();

    assert_eq!(shown, "Synthetic");
    let want = scan_json(&joe());
    assert!(
        pfake.starts_with(&format!("p_fake {:.3} ", p(&want))),
        "{pfake} vs {want}"
    );
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "{} bytes", png.len());
}
