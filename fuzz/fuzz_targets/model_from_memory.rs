//! Model bytes as `dfd_model_load_from_memory` reads them before a backend
//! sees them: the ONNX reader (metadata, graph summary, output selection),
//! the embedded manifest and the front end it configures. Nothing may
//! panic, abort or allocate beyond the documented limits.
#![no_main]

use dfd::frontend::Frontend;
use dfd::model::onnx;
use dfd::model::{GraphOutput, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(props) = onnx::metadata_props(bytes) else {
        return;
    };
    let _ = onnx::graph_summary(bytes);
    let _ = onnx::select_output(bytes, &GraphOutput::Index(1));
    let Some((_, json)) = props.iter().find(|(k, _)| k == "dfd.manifest") else {
        return;
    };
    if let Ok(m) = Manifest::from_json(json, "fuzz") {
        if let Some(which) = &m.graph_output {
            let _ = onnx::select_output(bytes, which);
        }
        let _ = Frontend::new(&m.frontend, m.sample_rate, m.window);
    }
});
