use tract_onnx::prelude::*;
use std::time::Instant;
fn main() -> TractResult<()> {
    let path = std::env::args().nth(1).unwrap();
    let h: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let w: usize = std::env::args().nth(3).unwrap().parse().unwrap();
    for (label, fixed) in [("symbolic", None), ("fixed1", Some(1usize)), ("fixed8", Some(8))] {
        let mut model = tract_onnx::onnx().model_for_path(&path)?;
        let n: TDim = match fixed { Some(b) => b.into(), None => model.symbols.sym("N").into() };
        model.set_input_fact(0, f32::fact([n, 1.into(), h.into(), w.into()]).into())?;
        let plan = model.into_optimized()?.into_runnable()?;
        for b in [1usize, 2, 4, 8] {
            if let Some(f) = fixed { if f != b { continue; } }
            let x = Tensor::zero::<f32>(&[b, 1, h, w])?;
            let mut st = plan.spawn()?;
            for _ in 0..20 { st.run(tvec!(x.clone().into_tvalue()))?; }
            let it = 200;
            let t = Instant::now();
            for _ in 0..it { st.run(tvec!(x.clone().into_tvalue()))?; }
            let dt = t.elapsed().as_secs_f64() / it as f64;
            println!("{label} b{b}: {:.3} ms/run {:.3} ms/window", dt*1e3, dt*1e3/b as f64);
        }
    }
    Ok(())
}
