//! `dfd backends`: what libdfd can run on here, in the order `auto` ranks
//! it, and why (each probe's score and message, or why a backend cannot
//! run), so a missing plugin or GPU is diagnosed before a scan fails.

use std::path::Path;

use dfd::backend::{self, Origin};

use crate::exit;

pub fn run(plugin_dir: Option<&Path>) -> u8 {
    // A directory named explicitly that is not one is a usage error, as it
    // is for a scan: listing the other search places would hide the typo.
    if let Err(e) = backend::check_plugin_dir(plugin_dir) {
        eprintln!("dfd: {e}");
        return exit::USAGE;
    }
    let list = backend::list(plugin_dir);
    let chosen = list.iter().position(|b| b.available);
    let rows: Vec<[String; 5]> = list
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let origin = match b.origin() {
                Some(Origin::Builtin) => "builtin".to_string(),
                Some(Origin::Plugin(path)) => path.display().to_string(),
                None => "not found".to_string(),
            };
            let (rank, state) = match (b.available, Some(i) == chosen) {
                (true, true) => (format!("{}.", i + 1), "auto's choice"),
                (true, false) => (format!("{}.", i + 1), "available"),
                (false, _) => ("-".to_string(), "unavailable"),
            };
            let score = if b.available {
                format!("score {}", b.score)
            } else {
                String::new()
            };
            [
                rank,
                b.name.clone(),
                format!("{state:<13} {score}").trim_end().to_string(),
                origin,
                b.detail.clone(),
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    println!("auto ranks available backends by their probe's score (higher first):");
    for [rank, name, state, origin, detail] in &rows {
        println!("{rank:>w0$} {name:<w1$}  {state:<w2$}  {origin}");
        if !detail.is_empty() {
            println!("{:>w0$} {:<w1$}  {detail}", "", "");
        }
    }
    exit::OK
}
