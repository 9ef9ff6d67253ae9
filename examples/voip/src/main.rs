//! dfd-voip-monitor: listens for RTP on a UDP port and scores every call
//! (SSRC) live with libdfd. See README.md beside this crate.

use std::io::Write;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use dfd::model::{BackendChoice, Builtin, PrecisionChoice};
use dfd::{Model, ModelOptions, Verdict};
use dfd_voip_monitor::monitor::{Event, EventKind, Models, Monitor, Options};
use dfd_voip_monitor::payload::PayloadMap;

/// Scores live RTP calls for synthetic speech: one libdfd stream per SSRC.
///
/// Payload types 0 (PCMU/8000), 8 (PCMA/8000), 10 (L16/44100/2) and
/// 11 (L16/44100/1) are known; map dynamic ones with --pt, as the SDP's
/// rtpmap does (Opus: `--pt 111=opus/48000/2`). Prints a line
/// per call when its verdict changes and when it ends.
#[derive(Parser, Debug)]
#[command(name = "dfd-voip-monitor", version)]
struct Args {
    /// UDP address to receive RTP on (port 0 picks a free port; the bound
    /// address is printed on stderr).
    #[arg(long, default_value = "0.0.0.0:5004")]
    listen: String,
    /// Maps a dynamic payload type, e.g. `96=L16/16000/1` or
    /// `111=opus/48000/2` (repeatable).
    #[arg(long = "pt", value_name = "PT=ENC/RATE[/CH]")]
    pt: Vec<String>,
    /// Seconds without a packet after which a call has ended.
    #[arg(long, default_value_t = 2.0)]
    idle: f64,
    /// Jitter buffer: newest packets held while waiting for a missing one.
    #[arg(long, default_value_t = 8)]
    jitter_packets: usize,
    /// Jitter buffer: longest wait for a missing packet, in milliseconds.
    #[arg(long, default_value_t = 120)]
    jitter_ms: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Run `sh -c CMD` when a call turns synthetic, with SSRC (decimal),
    /// SSRC_HEX, P_FAKE, PEER and CODEC in its environment.
    #[arg(long, value_name = "CMD")]
    on_synthetic: Option<String>,
    /// Exit after this many calls have ended.
    #[arg(long)]
    max_calls: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Model file, package directory or builtin:NAME for every payload
    /// (default: builtin:default above 8 kHz, builtin:telephone at 8 kHz).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Model for payloads at 8 kHz or less (default: --model if given, else
    /// builtin:telephone).
    #[arg(long, value_name = "PATH")]
    model_8k: Option<PathBuf>,
    /// Precision variant: auto, fp32, fp16, int8.
    #[arg(long, default_value = "auto")]
    precision: PrecisionChoice,
    /// Backend: auto, cpu, cuda or a plugin name.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Directory searched first for backend plugins.
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dfd-voip-monitor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let mut payloads = PayloadMap::default();
    for spec in &args.pt {
        payloads.add(spec)?;
    }
    let options = ModelOptions {
        backend: args.backend.clone(),
        precision: args.precision,
        threads: 1,
        plugin_dir: args.plugin_dir.clone(),
    };
    // A path, builtin:NAME, or (None) the given built-in model.
    let load = |arg: &Option<PathBuf>, default: Builtin| {
        let builtin = match arg {
            None => Some(Ok(default)),
            Some(p) => p.to_str().and_then(Builtin::from_ref),
        };
        match (builtin, arg) {
            (Some(b), _) => b.and_then(|b| Model::load_builtin_named(b, &options)),
            (None, Some(path)) => Model::load(path, &options),
            (None, None) => unreachable!("no argument means the default built-in"),
        }
        .map_err(|e| format!("cannot load the model: {e}"))
    };
    let wideband = load(&args.model, Builtin::Default)?;
    let narrowband = match (&args.model_8k, &args.model) {
        (None, Some(_)) => wideband.clone(),
        (path, _) => load(path, Builtin::Telephone)?,
    };
    let models = Models {
        narrowband,
        wideband,
    };

    let socket =
        UdpSocket::bind(&args.listen).map_err(|e| format!("cannot bind {}: {e}", args.listen))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(10)))
        .map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    eprintln!(
        "dfd-voip-monitor: listening on {local} (udp), model {:?} (8 kHz payloads: {:?}) on {}",
        models.wideband.manifest().name,
        models.narrowband.manifest().name,
        models.wideband.backend_name()
    );

    let mut monitor = Monitor::new(
        models,
        Options {
            payloads,
            idle: Duration::from_secs_f64(args.idle),
            depth: args.jitter_packets,
            latency: Duration::from_millis(args.jitter_ms),
        },
    );
    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs_f64(s));
    let mut hooks: Vec<Child> = Vec::new();
    let mut ended = 0u64;
    let mut buf = vec![0u8; 65536];
    loop {
        let mut events = match socket.recv_from(&mut buf) {
            Ok((n, peer)) => monitor.datagram(&buf[..n], peer, Instant::now()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Vec::new()
            }
            Err(e) => return Err(format!("receive: {e}")),
        };
        let now = Instant::now();
        events.extend(monitor.tick(now));
        let stop = STOP.load(Ordering::SeqCst) || deadline.is_some_and(|d| now >= d);
        if stop {
            events.extend(monitor.finish(now));
        }
        for e in &events {
            report(e, args.json, args.on_synthetic.as_deref(), &mut hooks);
            ended += u64::from(e.kind == EventKind::End);
        }
        hooks.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        if stop || args.max_calls.is_some_and(|m| ended >= m) {
            break;
        }
    }
    let events = monitor.finish(Instant::now());
    for e in &events {
        report(e, args.json, args.on_synthetic.as_deref(), &mut hooks);
    }
    for mut c in hooks {
        let _ = c.wait();
    }
    let ig = monitor.ignored;
    if ig.malformed + ig.rtcp + ig.unknown_pt > 0 {
        eprintln!(
            "dfd-voip-monitor: ignored {} malformed, {} RTCP and {} unmapped-payload datagrams",
            ig.malformed, ig.rtcp, ig.unknown_pt
        );
    }
    Ok(())
}

fn report(e: &Event, json: bool, hook: Option<&str>, hooks: &mut Vec<Child>) {
    let line = if json {
        e.to_json().to_string()
    } else {
        e.to_line()
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    if let (Some(cmd), EventKind::Verdict, Verdict::Synthetic) = (hook, e.kind, e.score.verdict) {
        match Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("SSRC", e.ssrc.to_string())
            .env("SSRC_HEX", format!("{:08x}", e.ssrc))
            .env("P_FAKE", format!("{:.4}", e.score.p_fake))
            .env("PEER", e.peer.to_string())
            .env("CODEC", e.format.to_string())
            .spawn()
        {
            Ok(child) => hooks.push(child),
            Err(err) => eprintln!("dfd-voip-monitor: --on-synthetic: {err}"),
        }
    }
}
