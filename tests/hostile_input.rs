//! Hostile input through the C API: each defect a fuzzing and misuse probe
//! found (issue 15) gets its status, its message, and a check that the
//! stream or the process is still usable afterwards.

mod common;

use std::ffi::c_void;
use std::path::Path;
use std::ptr::null_mut;

use common::c_api::*;
use common::*;
use dfd::ffi::*;
use serde_json::{json, Value};

fn load_path(path: &Path, o: &Opts) -> (dfd_status, *mut dfd_model) {
    let p = c(path.to_str().unwrap());
    let mut m = null_mut();
    let st = unsafe { dfd_model_load(p.as_ptr(), &o.raw, &mut m) };
    (st, m)
}

fn load_bytes(bytes: &[u8], o: &Opts) -> (dfd_status, *mut dfd_model) {
    let mut m = null_mut();
    let st =
        unsafe { dfd_model_load_from_memory(bytes.as_ptr().cast(), bytes.len(), &o.raw, &mut m) };
    (st, m)
}

/// The tiny-mel package's fp32 file (its manifest is embedded).
fn tiny_mel() -> (dfd_status, *mut dfd_model) {
    load_path(
        &fixture("models/tiny-mel/model.fp32.onnx"),
        &opts("cpu", "auto", &plugin_dir()),
    )
}

/// tiny-mel's manifest as one file's manifest (no variant list).
fn tiny_manifest() -> Value {
    let mut m: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("models/tiny-mel/manifest.json")).unwrap(),
    )
    .unwrap();
    m.as_object_mut().unwrap().remove("variants");
    m
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An ONNX file without a manifest with `manifest` embedded: one more
/// `metadata_props` entry (ModelProto field 14) appended, as protobuf allows.
fn with_manifest(manifest: &Value) -> Vec<u8> {
    let mut onnx = std::fs::read(fixture("models/no-manifest.onnx")).unwrap();
    let (key, value) = (b"dfd.manifest", manifest.to_string().into_bytes());
    let mut entry = vec![0x0a];
    varint(key.len() as u64, &mut entry);
    entry.extend_from_slice(key);
    entry.push(0x12);
    varint(value.len() as u64, &mut entry);
    entry.extend_from_slice(&value);
    onnx.push(0x72);
    varint(entry.len() as u64, &mut onnx);
    onnx.extend_from_slice(&entry);
    onnx
}

/// Pushes audio, flushes and returns the stream's result.
unsafe fn score_of(s: *mut dfd_stream) -> dfd_result {
    let mut r: dfd_result = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { dfd_score(s, &mut r) }, DFD_OK);
    r
}

/// The same audio scored by a stream that never saw the bad input.
unsafe fn clean_run(m: *const dfd_model, rate: u32, audio: &[f32]) -> dfd_result {
    let mut s = null_mut();
    unsafe {
        assert_eq!(dfd_open(m, rate, 1, &mut s), DFD_OK);
        assert_eq!(dfd_push_samples(s, audio.as_ptr(), audio.len()), DFD_OK);
        assert_eq!(dfd_flush(s), DFD_OK);
        let r = score_of(s);
        dfd_close(s);
        r
    }
}

fn assert_same(a: &dfd_result, b: &dfd_result) {
    assert_eq!(
        (a.p_fake, a.last_p_fake, a.windows, a.seconds, a.verdict),
        (b.p_fake, b.last_p_fake, b.windows, b.seconds, b.verdict)
    );
}

/// Defect 1: finite samples near FLT_MAX reached the resampler, which
/// panicked, and the stream failed every later call. Now the chunk is
/// rejected before any of it is consumed.
#[test]
fn huge_finite_samples_are_rejected_and_leave_the_stream_as_it_was() {
    let (st, m) = tiny_mel();
    assert_eq!(st, DFD_OK, "{}", last_error());
    let (rate, _, audio) = read_wav(&fixture("audio/speech_22k05.wav"));
    let half = audio.len() / 2;
    unsafe {
        let want = clean_run(m, rate, &audio);
        assert!(want.windows > 0);
        let mut s = null_mut();
        assert_eq!(dfd_open(m, rate, 1, &mut s), DFD_OK);
        assert_eq!(dfd_push_samples(s, audio.as_ptr(), half), DFD_OK);
        let before = score_of(s);
        for huge in [f32::MAX, -3.0e38, 1.0e18, DFD_MAX_SAMPLE_MAGNITUDE * 1.01] {
            let mut bad = audio[half..half + 3000].to_vec();
            bad[1234] = huge;
            assert_eq!(
                dfd_push_samples(s, bad.as_ptr(), bad.len()),
                DFD_ERR_BAD_SAMPLES
            );
            let msg = last_error();
            assert!(
                msg.contains("sample 1234 (frame 1234, channel 0)")
                    && msg.contains("beyond the largest accepted magnitude 1000")
                    && msg.contains("the chunk was not consumed"),
                "{msg}"
            );
            assert_same(&score_of(s), &before);
        }
        // The rest of the audio scores exactly as if nothing had happened.
        assert_eq!(
            dfd_push_samples(s, audio[half..].as_ptr(), audio.len() - half),
            DFD_OK,
            "{}",
            last_error()
        );
        assert_eq!(dfd_flush(s), DFD_OK, "{}", last_error());
        assert_same(&score_of(s), &want);
        dfd_close(s);

        // Over-range float audio up to the documented magnitude is taken.
        let loud: Vec<f32> = audio.iter().map(|x| x * DFD_MAX_SAMPLE_MAGNITUDE).collect();
        let peak = loud.iter().fold(0f32, |a, x| a.max(x.abs()));
        assert!(peak > 100.0 && peak <= DFD_MAX_SAMPLE_MAGNITUDE);
        let r = clean_run(m, rate, &loud);
        assert_eq!(r.windows, want.windows);
        dfd_model_free(m);
    }
}

/// Defect 2: manifest sizes are bounded before anything is allocated from
/// them, each refused with its own message.
#[test]
fn manifest_values_beyond_the_limits_are_refused() {
    let o = opts("cpu", "auto", &plugin_dir());
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/frontend/n_fft",
            json!(1u64 << 30),
            "frontend n_fft 1073741824 is above the limit of 16384",
        ),
        (
            "/frontend/n_mels",
            json!(1u64 << 31),
            "frontend n_mels 2147483648 is above the limit of 512",
        ),
        (
            "/input_shape",
            json!([16000u64, 4294967297u64, 4294967295u64, u64::MAX]),
            "has more than 2097152 values",
        ),
        (
            "/input_shape",
            json!([4096, 1024]),
            "has more than 2097152 values",
        ),
        (
            "/hop",
            json!(1),
            "manifest hop 1 is below window / 64 (250 samples)",
        ),
        (
            "/window",
            json!(1u64 << 22),
            "manifest window 4194304 is above the limit of 2097152",
        ),
        (
            "/sample_rate",
            json!(1),
            "manifest sample_rate 1 Hz is out of range (4000..=384000)",
        ),
        (
            "/frontend/hop_length",
            json!(1),
            "frontend hop_length 1 is below n_fft / 64 (8)",
        ),
        (
            "/frontend/delta_width",
            json!(1u64 << 40),
            "frontend delta_width 1099511627776 is above the limit of 16000",
        ),
    ];
    for (field, value, message) in cases {
        let mut manifest = tiny_manifest();
        let (parent, key) = field.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut manifest
        } else {
            manifest.pointer_mut(parent).unwrap()
        };
        parent[key] = value;
        if field == "/frontend/delta_width" {
            manifest["frontend"]["deltas"] = json!(1);
        }
        let (st, m) = load_bytes(&with_manifest(&manifest), &o);
        assert_eq!(st, DFD_ERR_MODEL_KIND, "{field}: {}", last_error());
        assert!(m.is_null());
        assert!(last_error().contains(message), "{field}: {}", last_error());
    }
    // The front end's own output is bounded too (here: frames x rows of a
    // spectrogram whose window the manifest allows).
    let mut manifest = tiny_manifest();
    manifest["window"] = json!(1 << 21);
    manifest["hop"] = json!(1 << 20);
    manifest["frontend"] = json!({"type": "spectrogram", "n_fft": 16384, "hop_length": 256});
    manifest["input_shape"] = json!([1]);
    let (st, _) = load_bytes(&with_manifest(&manifest), &o);
    assert_eq!(st, DFD_ERR_MODEL_KIND);
    assert!(
        last_error().contains("frames is more than 2097152 values per window"),
        "{}",
        last_error()
    );
    // The process loads and runs models as before.
    let (st, m) = tiny_mel();
    assert_eq!(st, DFD_OK, "{}", last_error());
    let speech = speech();
    unsafe {
        assert!(clean_run(m, 16000, &speech).windows > 0);
        dfd_model_free(m);
    }
}

/// Defect 3: `options.threads` is range-checked before any thread starts.
#[test]
fn absurd_thread_counts_are_refused() {
    let path = fixture("models/tiny-mel/model.fp32.onnx");
    let mut o = opts("cpu", "auto", &plugin_dir());
    o.raw.threads = u32::MAX;
    let started = std::time::Instant::now();
    let (st, m) = load_path(&path, &o);
    assert_eq!(st, DFD_ERR_INVALID_ARG);
    assert!(m.is_null());
    assert!(
        last_error().contains("options.threads 4294967295 is above the limit of 256"),
        "{}",
        last_error()
    );
    o.raw.threads = DFD_MAX_THREADS + 1;
    assert_eq!(load_path(&path, &o).0, DFD_ERR_INVALID_ARG);
    assert!(started.elapsed().as_secs() < 30);
    o.raw.threads = 2;
    let (st, m) = load_path(&path, &o);
    assert_eq!(st, DFD_OK, "{}", last_error());
    unsafe { dfd_model_free(m) };
}

/// Defect 4: rates below telephone band are refused at open.
#[test]
fn sample_rates_outside_the_limits_are_refused() {
    let (st, m) = tiny_mel();
    assert_eq!(st, DFD_OK);
    let mut s = null_mut();
    unsafe {
        for rate in [1, 2, DFD_MIN_SAMPLE_RATE - 1, DFD_MAX_SAMPLE_RATE + 1] {
            assert_eq!(dfd_open(m, rate, 1, &mut s), DFD_ERR_SAMPLE_RATE);
            assert!(s.is_null());
            assert!(
                last_error().contains(&format!(
                    "sample rate {rate} Hz is out of range (4000..=384000)"
                )),
                "{}",
                last_error()
            );
        }
        // The lowest accepted rate works end to end.
        let tone: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.3).sin() * 0.5).collect();
        let r = clean_run(m, DFD_MIN_SAMPLE_RATE, &tone);
        assert_eq!(r.seconds, 2.0);
        assert!(r.windows > 0);
        dfd_model_free(m);
    }
}

/// Defect 5: model reads are bounded; devices and oversized files are
/// refused at once.
#[test]
fn model_reads_are_bounded() {
    let o = opts("cpu", "auto", &plugin_dir());
    let started = std::time::Instant::now();
    let (st, m) = load_path(Path::new("/dev/zero"), &o);
    assert_eq!(st, DFD_ERR_IO);
    assert!(m.is_null());
    assert!(
        last_error().contains("/dev/zero: not a regular file"),
        "{}",
        last_error()
    );
    // A sparse file one byte over the limit (no disk used).
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.onnx");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(DFD_MAX_MODEL_BYTES + 1)
        .unwrap();
    assert_eq!(load_path(&big, &o).0, DFD_ERR_IO);
    assert!(
        last_error().contains("2147483649 bytes is above the limit of 2147483648"),
        "{}",
        last_error()
    );
    // A package whose manifest.json is a device is refused the same way.
    let package = tmp.path().join("package");
    std::fs::create_dir(&package).unwrap();
    std::os::unix::fs::symlink("/dev/zero", package.join("manifest.json")).unwrap();
    assert_eq!(load_path(&package, &o).0, DFD_ERR_MODEL_KIND);
    assert!(
        last_error().contains("not a model package: cannot read")
            && last_error().contains("manifest.json: not a regular file"),
        "{}",
        last_error()
    );
    // In memory: the length is checked before the bytes are touched.
    let one = [0u8];
    let mut m = null_mut();
    let st = unsafe {
        dfd_model_load_from_memory(one.as_ptr().cast::<c_void>(), usize::MAX, &o.raw, &mut m)
    };
    assert_eq!(st, DFD_ERR_INVALID_ARG);
    assert!(last_error().contains("above the limit of 2147483648"));
    assert!(started.elapsed().as_secs() < 30);
    let (st, m) = tiny_mel();
    assert_eq!(st, DFD_OK);
    unsafe { dfd_model_free(m) };
}

/// Defect 7: a file that is not a shared library says why (dlerror), and
/// an explicit plugin directory that is not one is an error.
#[test]
fn plugin_errors_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("libdfd_backend_junk.so"),
        b"not an ELF file",
    )
    .unwrap();
    let path = fixture("models/tiny-mel/model.fp32.onnx");
    let (st, m) = load_path(&path, &opts("junk", "auto", tmp.path()));
    assert_eq!(st, DFD_ERR_PLUGIN_INCOMPATIBLE);
    assert!(m.is_null());
    let msg = last_error();
    assert!(
        msg.contains("libdfd_backend_junk.so: dlopen failed: ")
            && (msg.contains("ELF") || msg.contains("too short")),
        "{msg}"
    );
    let missing = tmp.path().join("no-such-dir");
    let file = tmp.path().join("libdfd_backend_junk.so");
    for backend in ["cpu", "auto"] {
        assert_eq!(
            load_path(&path, &opts(backend, "auto", &missing)).0,
            DFD_ERR_PLUGIN_NOT_FOUND
        );
        assert!(
            last_error().contains(&format!(
                "plugin directory {}: does not exist",
                missing.display()
            )),
            "{}",
            last_error()
        );
        assert_eq!(
            load_path(&path, &opts(backend, "auto", &file)).0,
            DFD_ERR_PLUGIN_NOT_FOUND
        );
        assert!(last_error().contains("not a directory"), "{}", last_error());
    }
    let dir = c(missing.to_str().unwrap());
    let mut n = 0usize;
    assert_eq!(
        unsafe { dfd_list_backends(dir.as_ptr(), null_mut(), 0, &mut n) },
        DFD_ERR_PLUGIN_NOT_FOUND
    );
    // The right directory still loads.
    let (st, m) = tiny_mel();
    assert_eq!(st, DFD_OK, "{}", last_error());
    unsafe { dfd_model_free(m) };
}

/// Defect 8: a frame count whose bytes exceed `isize::MAX` is refused
/// before a slice is made of it.
#[test]
fn frame_counts_beyond_the_address_space_are_refused() {
    let (st, m) = tiny_mel();
    assert_eq!(st, DFD_OK);
    let speech = speech();
    let pcm: Vec<i16> = speech.iter().map(|x| (x * 32767.0) as i16).collect();
    unsafe {
        let mut s = null_mut();
        assert_eq!(dfd_open(m, 16000, 2, &mut s), DFD_OK);
        let frames_i16 = isize::MAX as usize / 4 + 1; // * 2 channels * 2 bytes
        assert_eq!(
            dfd_push_samples_i16(s, pcm.as_ptr(), frames_i16),
            DFD_ERR_INVALID_ARG
        );
        assert!(
            last_error().contains(&format!(
                "{frames_i16} frames of 2 channels is more than a process can address"
            )),
            "{}",
            last_error()
        );
        let frames_f32 = isize::MAX as usize / 8 + 1;
        assert_eq!(
            dfd_push_samples(s, speech.as_ptr(), frames_f32),
            DFD_ERR_INVALID_ARG
        );
        assert_eq!(
            dfd_push_samples(s, speech.as_ptr(), usize::MAX),
            DFD_ERR_INVALID_ARG
        );
        let r = score_of(s);
        assert_eq!(r.seconds, 0.0);
        // Still usable: real stereo frames score.
        let stereo: Vec<i16> = pcm.iter().flat_map(|&x| [x, x]).collect();
        assert_eq!(
            dfd_push_samples_i16(s, stereo.as_ptr(), pcm.len()),
            DFD_OK,
            "{}",
            last_error()
        );
        assert!(score_of(s).windows > 0);
        dfd_close(s);
        dfd_model_free(m);
    }
}
