//! `dfd backends --measure`: each precision variant's time per window on
//! each available backend, what `precision = auto` picks there and what was
//! fastest, so the choice can be checked on the device an app targets.

use std::time::Duration;

use dfd::backend;
use dfd::measure::{self, TIE_MARGIN};
use dfd::{BackendChoice, ModelOptions};

use crate::model_ref::ModelRef;
use crate::{exit, BackendsArgs};

pub fn run(args: &BackendsArgs) -> u8 {
    let model = match ModelRef::resolve(args.model.as_ref()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dfd: {e}");
            return exit::USAGE;
        }
    };
    let budget = Duration::from_secs_f64(args.measure_seconds);
    let mut code = exit::OK;
    for b in backend::list(args.plugin_dir.as_deref()) {
        if !b.available {
            continue;
        }
        let options = ModelOptions {
            backend: BackendChoice::Named(b.name.clone()),
            plugin_dir: args.plugin_dir.clone(),
            ..Default::default()
        };
        println!();
        match measure::measure(model.source(), &options, budget) {
            Ok(m) => {
                let times: Vec<String> = m
                    .times
                    .iter()
                    .map(|t| format!("{} {:.3}", t.precision.as_str(), t.ms_per_window))
                    .collect();
                println!(
                    "{}: {} ms/window, model {}, median of {} rounds of {} windows",
                    m.backend,
                    times.join(", "),
                    m.model,
                    m.rounds,
                    measure::WINDOWS
                );
                for (precision, why) in &m.refused {
                    println!(
                        "{}: {} not measured: the backend cannot run it ({why})",
                        m.backend,
                        precision.as_str()
                    );
                }
                let fastest = m.fastest();
                println!(
                    "{}: auto picks {}; fastest here: {} (a variant beats the most precise by more than {:.0} % or not at all){}",
                    m.backend,
                    m.auto.as_str(),
                    fastest.as_str(),
                    TIE_MARGIN * 100.0,
                    if fastest == m.auto {
                        String::new()
                    } else {
                        format!(
                            "; to run {} here, ask for it (--precision {0}, precision \"{0}\")",
                            fastest.as_str()
                        )
                    }
                );
            }
            // A backend that cannot run this model (an operator it lacks):
            // said, and the others are still measured.
            Err(e) if e.status == dfd::Status::ModelUnsupported => {
                println!("{}: cannot run this model: {e}", b.name);
            }
            Err(e) => {
                eprintln!("dfd: cannot measure on {}: {e}", b.name);
                code = exit::USAGE;
            }
        }
    }
    code
}
