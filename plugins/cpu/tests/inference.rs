//! probe, precision_order, and create+run of every runnable fixture against
//! the onnxruntime outputs stored in tests/fixtures/models/expected.json.

mod common;

/// The backend under test (see `common`).
const ENTRY: dfd_backend_abi::EntryFn = dfd_backend_cpu::dfd_backend_v1;

use common::*;
use dfd_backend_abi::{BackendStatus, ABI_VERSION};
use std::ffi::c_char;

#[test]
fn table_header() {
    let t = table();
    assert_eq!(t.abi_version, ABI_VERSION);
    assert_eq!(
        t.table_size as usize,
        std::mem::size_of::<dfd_backend_abi::BackendTable>()
    );
    let name = unsafe { std::ffi::CStr::from_ptr(t.name) }
        .to_str()
        .unwrap();
    assert_eq!(name, "cpu");
    let version = unsafe { std::ffi::CStr::from_ptr(t.version) }
        .to_str()
        .unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // The compiled-in path hands out the very same table.
    assert!(std::ptr::eq(t, dfd_backend_cpu::table()));
}

#[test]
fn probe_says_tract_isa_and_int8() {
    let mut buf = [0 as c_char; 512];
    let rc = unsafe { (table().probe)(buf.as_mut_ptr(), buf.len()) };
    assert_eq!(rc, 0);
    let msg = cstr(&buf);
    eprintln!("probe: {msg}");
    assert!(msg.starts_with("tract 0.23.9"), "{msg}");
    assert!(
        msg.contains("tract isa ") && msg.contains("int8 fast: "),
        "{msg}"
    );
    // NULL buffer: still available, nothing written.
    assert_eq!(unsafe { (table().probe)(std::ptr::null_mut(), 0) }, 0);
    // Tiny buffer: truncated, NUL-terminated.
    let mut small = [1 as c_char; 6];
    assert_eq!(
        unsafe { (table().probe)(small.as_mut_ptr(), small.len()) },
        0
    );
    assert_eq!(cstr(&small), "tract");
}

#[test]
fn precision_order_lists_all_three() {
    let mut buf = [0 as c_char; 64];
    let rc = unsafe { (table().precision_order)(buf.as_mut_ptr(), buf.len()) };
    assert_eq!(rc, 0);
    let order = cstr(&buf);
    let mut v: Vec<&str> = order.split(',').collect();
    v.sort();
    assert_eq!(v, ["fp16", "fp32", "int8"], "{order}");
    assert_eq!(order, dfd_backend_cpu::isa::precision_order());
    // fp16 (cast-folded) never ahead of fp32: same kernels, fp32 is exact.
    assert!(order.find("fp32") < order.find("fp16"), "{order}");

    let mut small = [0 as c_char; 5];
    let rc = unsafe { (table().precision_order)(small.as_mut_ptr(), small.len()) };
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::InvalidArgument);
    assert!(cstr(&small).len() <= 4);
    let rc = unsafe { (table().precision_order)(std::ptr::null_mut(), 64) };
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::InvalidArgument);
}

struct Case {
    input: Vec<f32>,
    batch: usize,
    item_shape: Vec<u64>,
    output_len: usize,
}

fn case(model: &str) -> (Case, serde_json::Value) {
    let e = expected()["models"][model].clone();
    let input = read_f32(e["input"].as_str().unwrap());
    let c = Case {
        input,
        batch: e["batch"].as_u64().unwrap() as usize,
        item_shape: e["item_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect(),
        output_len: e["output_len"].as_u64().unwrap() as usize,
    };
    assert_eq!(
        c.input.len(),
        c.batch * c.item_shape.iter().product::<u64>() as usize
    );
    (c, e)
}

fn load(file: &str, c: &Case) -> Handle {
    Desc::new(fixture(file), &c.item_shape, c.output_len)
        .create()
        .unwrap_or_else(|f| panic!("{file}: {f:?}"))
}

/// Runs the batch at once and item by item; both must agree.
fn run_all(h: &Handle, c: &Case) -> Vec<f32> {
    let batched = h.run(&c.input, c.batch).unwrap();
    let item = c.input.len() / c.batch;
    let single: Vec<f32> = c
        .input
        .chunks(item)
        .flat_map(|x| h.run(x, 1).unwrap())
        .collect();
    let d = max_abs_diff(&batched, &single);
    assert!(d <= 1e-5, "batch 1 vs batch {}: {d}", c.batch);
    batched
}

#[test]
fn tiny_mel_all_precisions_match_onnxruntime() {
    let (c, e) = case("tiny-mel");
    let tol = &e["tolerance"];
    let mut tract = std::collections::BTreeMap::new();
    for p in ["fp32", "fp16", "int8"] {
        let v = &e["variants"][p];
        let h = load(&format!("tiny-mel/model.{p}.onnx"), &c);
        let got = run_all(&h, &c);
        let ort = json_f32s(&v["output"]);
        eprintln!(
            "tiny-mel {p}: tract {got:?} ort {ort:?} |tract-ort| {}",
            max_abs_diff(&got, &ort)
        );
        tract.insert(p, got);
    }
    let fp32 = &tract["fp32"];
    let ort32 = json_f32s(&e["variants"]["fp32"]["output"]);
    assert!(max_abs_diff(fp32, &ort32) <= tol["fp32_vs_ort"].as_f64().unwrap() as f32);
    // fp16 = f16 weights + Cast folded: same numbers as onnxruntime's fp16 run.
    let ort16 = json_f32s(&e["variants"]["fp16"]["output"]);
    assert!(max_abs_diff(&tract["fp16"], &ort16) <= 1e-4);
    let d16 = max_abs_diff(&tract["fp16"], fp32);
    let d8 = max_abs_diff(&tract["int8"], fp32);
    eprintln!(
        "tiny-mel max |dev| vs tract fp32: fp16 {d16}, int8 {d8} (output std {})",
        e["stats"]["fp32_output_std"]
    );
    assert!(
        d16 <= tol["fp16_vs_fp32"].as_f64().unwrap() as f32,
        "fp16 {d16}"
    );
    assert!(
        d8 <= tol["int8_vs_fp32"].as_f64().unwrap() as f32,
        "int8 {d8}"
    );
    // tract's int8 kernels vs onnxruntime's: both requantize, rounding may differ.
    let ort8 = json_f32s(&e["variants"]["int8"]["output"]);
    let d = max_abs_diff(&tract["int8"], &ort8);
    eprintln!("tiny-mel int8 tract vs onnxruntime int8: {d}");
    assert!(d <= 0.05, "int8 tract vs ort {d}");
}

#[test]
fn fixed_batch_runs_in_chunks() {
    let (c, e) = case("fixed-batch");
    let h = load("fixed-batch.onnx", &c);
    let got = run_all(&h, &c);
    let ort = json_f32s(&e["variants"]["fp32"]["output"]);
    assert!(max_abs_diff(&got, &ort) <= 1e-4, "{got:?} vs {ort:?}");
    // Odd batch: three items.
    let item = c.input.len() / c.batch;
    let three = h.run(&c.input[..3 * item], 3).unwrap();
    assert_eq!(&three[..], &got[..3]);
}

#[test]
fn tiny_raw_two_class_logits() {
    let (c, e) = case("tiny-raw");
    let h = load("tiny-raw.onnx", &c);
    let got = run_all(&h, &c);
    assert_eq!(got.len(), 8);
    let ort = json_f32s(&e["variants"]["fp32"]["output"]);
    let d = max_abs_diff(&got, &ort);
    eprintln!("tiny-raw tract vs ort: {d}");
    assert!(d <= 1e-4, "{got:?} vs {ort:?}");
}

#[test]
fn no_manifest_still_runs() {
    // The backend reads only the graph; the manifest is the host's business.
    let (c, e) = case("tiny-mel");
    let h = load("no-manifest.onnx", &c);
    let got = h.run(&c.input, c.batch).unwrap();
    let ort = json_f32s(&e["variants"]["fp32"]["output"]);
    assert!(max_abs_diff(&got, &ort) <= 1e-4);
}

#[test]
fn concurrent_runs_on_one_handle_are_identical() {
    let (c, _) = case("tiny-mel");
    for p in ["fp32", "int8"] {
        let h = load(&format!("tiny-mel/model.{p}.onnx"), &c);
        let reference = h.run(&c.input, c.batch).unwrap();
        let item = c.input.len() / c.batch;
        std::thread::scope(|s| {
            for t in 0..4 {
                let (h, c, reference) = (&h, &c, &reference);
                s.spawn(move || {
                    for i in 0..10 {
                        // alternate batch 4 and single items
                        if (i + t) % 2 == 0 {
                            assert_eq!(h.run(&c.input, c.batch).unwrap(), *reference);
                        } else {
                            let k = (i + t) % c.batch;
                            let one = h.run(&c.input[k * item..(k + 1) * item], 1).unwrap();
                            assert!((one[0] - reference[k]).abs() <= 1e-5);
                        }
                    }
                });
            }
        });
    }
}

#[test]
fn threads_option_gives_same_results() {
    let (c, _) = case("tiny-mel");
    let base = load("tiny-mel/model.fp32.onnx", &c)
        .run(&c.input, c.batch)
        .unwrap();
    for threads in [1, 2, 4] {
        let mut d = Desc::new(fixture("tiny-mel/model.fp32.onnx"), &c.item_shape, 1);
        d.threads = threads;
        let h = d.create().unwrap();
        let got = h.run(&c.input, c.batch).unwrap();
        assert!(max_abs_diff(&got, &base) <= 1e-5, "threads {threads}");
    }
}

#[test]
fn max_batch_is_enforced_and_reachable() {
    let (c, _) = case("tiny-mel");
    let mut d = Desc::new(fixture("tiny-mel/model.fp32.onnx"), &c.item_shape, 1);
    d.max_batch = 16;
    let h = d.create().unwrap();
    let item = c.input.len() / c.batch;
    let big: Vec<f32> = c.input.iter().cycle().take(16 * item).copied().collect();
    let out = h.run(&big, 16).unwrap();
    let four = h.run(&c.input, 4).unwrap();
    for k in 0..16 {
        assert!((out[k] - four[k % 4]).abs() <= 1e-5);
    }
    let more: Vec<f32> = c.input.iter().cycle().take(17 * item).copied().collect();
    let f = h.run(&more, 17).unwrap_err();
    assert_eq!(f.status, BackendStatus::InvalidArgument);
    assert!(f.message.contains("max_batch"), "{}", f.message);
}
