//! `dfd inspect`: what libdfd understands of a model, and where its manifest
//! and its ONNX graph disagree, so a hand-written manifest is checked before
//! it silently scores the wrong features.

use dfd::frontend::Frontend;
use dfd::model::onnx::{self, Dim, GraphSummary};
use dfd::model::{GraphOutput, Output, StoredModel};
use dfd::{Manifest, Model};

use crate::exit;
use crate::model_ref::ModelRef;
use crate::InspectArgs;

pub fn run(args: &InspectArgs) -> u8 {
    let model = match ModelRef::resolve(args.model.as_ref()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dfd: {e}");
            return exit::USAGE;
        }
    };
    let options = args.run.options();
    let origin = model.describe();
    let stored = match StoredModel::read(model.source(), options.precision) {
        Ok(stored) => stored,
        Err(e) => {
            eprintln!("dfd: cannot read model {origin}: {e}");
            return exit::USAGE;
        }
    };
    let m = &stored.manifest;
    let precision = stored.precision;
    let variants: Vec<&str> = stored.variants.iter().map(|p| p.as_str()).collect();
    println!("model        {} ({origin})", m.name);
    println!(
        "variants     {} (showing {})",
        variants.join(", "),
        precision.as_str()
    );
    let secs = |n: usize| n as f64 / f64::from(m.sample_rate);
    println!(
        "audio        {} Hz, window {} samples ({:.3} s), hop {} samples ({:.3} s)",
        m.sample_rate,
        m.window,
        secs(m.window),
        m.hop,
        secs(m.hop)
    );
    let frontend_json = serde_json::to_string(&m.frontend).unwrap_or_default();
    println!("front end    {frontend_json}");
    let frontend = Frontend::new(&m.frontend, m.sample_rate, m.window);
    match &frontend {
        Ok(f) => println!(
            "features     {:?} = {} values per window",
            f.output_shape(),
            f.output_len()
        ),
        Err(e) => println!("features     none: {e}"),
    }
    println!(
        "input_shape  {:?} (manifest, without the batch axis)",
        m.input_shape
    );
    println!("output       {}", describe_output(m.output));
    if let Some(o) = &m.graph_output {
        println!("graph_output {o} (the graph output libdfd reads)");
    }
    let (scale, bias) = (m.calibration.scale, m.calibration.bias);
    let sign = if bias < 0.0 { '-' } else { '+' };
    println!(
        "calibration  p = sigmoid({scale} * logit {sign} {})",
        bias.abs()
    );
    println!(
        "threshold    {} (stream p_fake at or above: synthetic)",
        m.threshold
    );
    match m.gate.min_dbfs {
        Some(db) => println!("gate         windows below {db} dBFS are not scored"),
        None => println!("gate         off (every window is scored)"),
    }
    println!(
        "scoring      a window needs {} samples ({:.3} s) of audio (min_audio); file p_fake: {} of the windows{}",
        m.min_audio(),
        secs(m.min_audio()),
        match m.aggregate {
            dfd::model::Aggregate::Mean => "mean logit",
            dfd::model::Aggregate::First => "the first",
            dfd::model::Aggregate::Max => "the most synthetic",
        },
        if m.end_window {
            ", plus one aligned to the end of the audio"
        } else {
            ""
        }
    );

    let graph = match onnx::graph_summary(&stored.onnx) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("dfd: {origin}: {e}");
            return exit::USAGE;
        }
    };
    print_graph(&graph);

    let mut warnings = check(m, frontend.as_ref().map(|f| f.output_len()).ok(), &graph);
    if let Some(w) = short_clip_warning(m) {
        warnings.push(w);
    }
    if let Err(e) = &frontend {
        warnings.insert(0, format!("the front end cannot be built: {e}"));
    }

    let loaded = Model::open(model.source(), &options);
    let code = match loaded {
        Ok(model) => {
            let at = match model.backend_origin() {
                dfd::backend::Origin::Builtin => "compiled in".to_string(),
                dfd::backend::Origin::Plugin(p) => p.display().to_string(),
            };
            println!(
                "runs on      backend {} ({at}), precision {}",
                model.backend_name(),
                model.precision().as_str()
            );
            if warnings.is_empty() {
                exit::OK
            } else {
                exit::FILE_FAILED
            }
        }
        Err(e) => {
            println!(
                "runs on      nothing: does not load on backend {:?}: {e}",
                options.backend.to_string()
            );
            exit::USAGE
        }
    };
    for w in &warnings {
        println!("warning: {w}");
    }
    code
}

fn describe_output(output: Output) -> String {
    match output {
        Output::Logit => "logit: one value, the logit of \"synthetic\"".into(),
        Output::Logits { fake_index } => {
            format!("logits: two class logits, class {fake_index} is synthetic")
        }
        Output::Probs { fake_index } => {
            format!("probs: two class probabilities, class {fake_index} is synthetic")
        }
        Output::BonafideScore => {
            "bonafide_score: one score, higher = bona fide (ASVspoof convention)".into()
        }
    }
}

fn print_graph(g: &GraphSummary) {
    let nodes: usize = g.ops.iter().map(|(_, n)| n).sum();
    let ops: Vec<String> = g.ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
    let opset = g.opset.map_or("?".to_string(), |v| v.to_string());
    println!(
        "graph        opset {opset}, {nodes} nodes: {}",
        ops.join(", ")
    );
    for i in &g.inputs {
        println!("  input      {}: {} {}", i.name, i.elem_type, dims(&i.dims));
    }
    for (o, op) in g.outputs.iter().zip(&g.output_ops) {
        let from = op
            .as_deref()
            .map_or(String::new(), |op| format!(" (from {op})"));
        println!(
            "  output     {}: {} {}{from}",
            o.name,
            o.elem_type,
            dims(&o.dims)
        );
    }
}

fn dims(d: &Option<Vec<Dim>>) -> String {
    match d {
        None => "[shape not declared]".into(),
        Some(d) => {
            let d: Vec<String> = d.iter().map(Dim::to_string).collect();
            format!("[{}]", d.join(", "))
        }
    }
}

/// Every disagreement between the manifest and the graph that would make
/// libdfd feed or read the network wrongly.
fn check(m: &Manifest, features: Option<usize>, g: &GraphSummary) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(n) = features {
        if n != m.input_len() {
            w.push(format!(
                "the front end makes {n} values per window but input_shape {:?} holds {}",
                m.input_shape,
                m.input_len()
            ));
        }
    }
    match g.inputs.as_slice() {
        [] => w.push("the graph has no input".into()),
        [input, rest @ ..] => {
            if !rest.is_empty() {
                w.push(format!(
                    "the graph has {} inputs; libdfd feeds only one",
                    g.inputs.len()
                ));
            }
            if input.elem_type != "float32" {
                w.push(format!(
                    "input {:?} is {}; libdfd feeds float32 (add a Cast in the graph)",
                    input.name, input.elem_type
                ));
            }
            if let Some(d) = &input.dims {
                if d.len() != m.input_shape.len() + 1 {
                    w.push(format!(
                        "input {:?} has rank {} but input_shape {:?} plus the batch axis has rank {}",
                        input.name,
                        d.len(),
                        m.input_shape,
                        m.input_shape.len() + 1
                    ));
                } else {
                    for (axis, (dim, want)) in d[1..].iter().zip(&m.input_shape).enumerate() {
                        if let Dim::Fixed(n) = dim {
                            if n != want {
                                w.push(format!(
                                    "input {:?} axis {} is {n} in the graph but {want} in input_shape",
                                    input.name,
                                    axis + 1
                                ));
                            }
                        }
                    }
                    if let Dim::Fixed(b) = d[0] {
                        if b != 1 {
                            w.push(format!(
                                "input {:?} has a fixed batch axis of {b}; libdfd runs batches of 1 to {} (export with a dynamic or unit batch axis)",
                                input.name,
                                dfd::model::MAX_BATCH
                            ));
                        }
                    }
                }
            }
        }
    }
    // The output libdfd reads: the manifest's `graph_output`, else the first.
    let chosen = match &m.graph_output {
        None => Some(0),
        Some(GraphOutput::Index(i)) => Some(*i).filter(|&i| i < g.outputs.len()),
        Some(GraphOutput::Name(n)) => g.outputs.iter().position(|o| &o.name == n),
    };
    match chosen.map(|i| (&g.outputs[i], g.output_ops[i].as_deref())) {
        None if g.outputs.is_empty() => w.push("the graph has no output".into()),
        None => w.push(format!(
            "graph_output {} names no output of the graph",
            m.graph_output
                .as_ref()
                .map_or(String::new(), |o| o.to_string())
        )),
        Some((out, op)) => {
            if g.outputs.len() > 1 && m.graph_output.is_none() {
                w.push(format!(
                    "the graph has {} outputs; libdfd reads the first, {:?} (set \"graph_output\" to choose)",
                    g.outputs.len(),
                    out.name
                ));
            }
            if let Some(d) = &out.dims {
                let fixed: Option<u64> = d
                    .iter()
                    .skip(1)
                    .map(|d| match d {
                        Dim::Fixed(n) => Some(*n),
                        _ => None,
                    })
                    .product();
                if let Some(n) = fixed.filter(|&n| n as usize != m.output.len()) {
                    w.push(format!(
                        "output {:?} has {n} values per item but the manifest's output kind expects {}",
                        out.name,
                        m.output.len()
                    ));
                }
            }
            match (m.output, op) {
                (Output::Logits { .. }, Some("Softmax")) => w.push(
                    "the graph ends in Softmax (probabilities) but the manifest says logits: use \"kind\": \"probs\"".into(),
                ),
                (Output::Probs { .. }, Some(op)) if op != "Softmax" => w.push(format!(
                    "the manifest says probs but the graph ends in {op}, not Softmax: if these are logits use \"kind\": \"logits\""
                )),
                (Output::Logit | Output::BonafideScore, Some("Sigmoid")) => w.push(
                    "the graph ends in Sigmoid (a probability) but the manifest expects an unbounded score: export the graph without its final Sigmoid".into(),
                ),
                _ => {}
            }
        }
    }
    w
}

/// Clips shorter than this are typical of the data sets detectors are
/// tested on (ASVspoof utterances are 2-6 s).
const TYPICAL_CLIP_SECONDS: f64 = 4.0;

/// A model whose minimum audio exceeds typical clips never scores them.
fn short_clip_warning(m: &Manifest) -> Option<String> {
    let need = m.min_audio() as f64 / f64::from(m.sample_rate);
    (need > TYPICAL_CLIP_SECONDS).then(|| {
        format!(
            "a window needs {need:.2} s of audio (min_audio), so clips shorter than that (typical clips are {TYPICAL_CLIP_SECONDS} s or less) are never scored; set \"min_audio\" in the manifest to the least audio the model may see"
        )
    })
}
