use dfd_backend_cpu::model::{CpuModel, LoadSpec};
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let onnx = std::fs::read(&a[1]).unwrap();
    let shape: Vec<usize> = a[2].split(',').map(|s| s.parse().unwrap()).collect();
    let len: usize = shape.iter().product();
    for threads in [0usize, 2] {
        let m = CpuModel::load(&LoadSpec { onnx: &onnx, item_shape: &shape, output_len: 1, max_batch: 8, threads }).unwrap();
        let x = vec![0.1f32; len];
        for _ in 0..10 { m.run(&x, 1).unwrap(); }
        let it = 100; let t = Instant::now();
        for _ in 0..it { m.run(&x, 1).unwrap(); }
        println!("threads {threads}: {:.3} ms/window", t.elapsed().as_secs_f64() * 1e3 / it as f64);
    }
}
