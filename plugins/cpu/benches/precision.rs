//! Per-window inference time of tiny-mel fp32 vs fp16 vs int8, batch 1 and 8,
//! through the backend table (as the host calls it).
//!
//!     CARGO_TARGET_DIR=/tmp/tgt-cpu cargo bench -p dfd-backend-cpu --bench precision
//!     TRACT_CPU_ISA=-avx512f,-avx512vnni,-avxvnni,-amx-int8 cargo bench ...   # simulate weaker CPUs
//!
//! Criterion reports time per `run` call; divide by the batch for the time per
//! window (the "thrpt" line gives windows per second). `DFD_BENCH_QUICK=1`
//! shortens the measurement (used for the TRACT_CPU_ISA sweep).

use std::ffi::{c_char, c_void, CStr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dfd_backend_abi::{BackendTable, ModelDesc};

const ITEM: [u64; 3] = [1, 40, 101];

fn fixtures() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/models"
    ))
}

fn table() -> &'static BackendTable {
    unsafe { &*dfd_backend_cpu::dfd_backend_v1() }
}

struct Model(*mut c_void);

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { (table().destroy)(self.0) }
    }
}

fn create(onnx: &[u8], threads: u32) -> Model {
    let desc = ModelDesc {
        struct_size: std::mem::size_of::<ModelDesc>() as u32,
        threads,
        onnx: onnx.as_ptr(),
        onnx_len: onnx.len(),
        input_shape: ITEM.as_ptr(),
        input_rank: ITEM.len(),
        output_len: 1,
        max_batch: 8,
        time_axis: dfd_backend_abi::NO_TIME_AXIS,
        max_frames: 0,
    };
    let mut out = std::ptr::null_mut();
    let mut err = [0 as c_char; 512];
    let rc = unsafe { (table().create)(&desc, &mut out, err.as_mut_ptr(), err.len()) };
    assert_eq!(
        rc,
        0,
        "{}",
        unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy()
    );
    Model(out)
}

fn run(m: &Model, input: &[f32], batch: usize, out: &mut [f32]) {
    let mut err = [0 as c_char; 256];
    let rc = unsafe {
        (table().run)(
            m.0,
            input.as_ptr(),
            batch,
            out.as_mut_ptr(),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    assert_eq!(rc, 0);
}

fn inputs(batch: usize) -> Vec<f32> {
    let bytes = std::fs::read(fixtures().join("inputs/tiny-mel.batch4.f32le.bin")).unwrap();
    let four: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    four.iter()
        .cycle()
        .take(batch * 40 * 101)
        .copied()
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut msg = [0 as c_char; 512];
    unsafe { (table().probe)(msg.as_mut_ptr(), msg.len()) };
    eprintln!(
        "probe: {}",
        unsafe { CStr::from_ptr(msg.as_ptr()) }.to_string_lossy()
    );

    let quick = std::env::var_os("DFD_BENCH_QUICK").is_some();
    let mut g = c.benchmark_group("tiny-mel");
    if quick {
        g.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
    } else {
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(40);
    }
    for precision in ["fp32", "fp16", "int8"] {
        let onnx =
            std::fs::read(fixtures().join(format!("tiny-mel/model.{precision}.onnx"))).unwrap();
        g.bench_function(BenchmarkId::new("load", precision), |b| {
            b.iter(|| create(&onnx, 0))
        });
        let m = create(&onnx, 0);
        for batch in [1usize, 8] {
            let input = inputs(batch);
            let mut out = vec![0f32; batch];
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(
                BenchmarkId::new(precision, format!("b{batch}")),
                &batch,
                |b, &batch| b.iter(|| run(&m, &input, batch, &mut out)),
            );
        }
    }
    // The multithread executor (ModelDesc::threads = 2) on the fp32 variant.
    if !quick {
        let onnx = std::fs::read(fixtures().join("tiny-mel/model.fp32.onnx")).unwrap();
        let m = create(&onnx, 2);
        for batch in [1usize, 8] {
            let input = inputs(batch);
            let mut out = vec![0f32; batch];
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(
                BenchmarkId::new("fp32-threads2", format!("b{batch}")),
                &batch,
                |b, &batch| b.iter(|| run(&m, &input, batch, &mut out)),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
