//! `dfd backends`: what libdfd can run on here, and why not when it cannot,
//! so a missing plugin or GPU is diagnosed before a scan fails.

use std::path::Path;

use dfd::backend::{self, Origin};

use crate::exit;

pub fn run(plugin_dir: Option<&Path>) -> u8 {
    let rows: Vec<[String; 4]> = backend::list(plugin_dir)
        .into_iter()
        .map(|b| {
            let origin = match &b.origin {
                Some(Origin::Builtin) => "builtin".to_string(),
                Some(Origin::Plugin(path)) => path.display().to_string(),
                None => "not found".to_string(),
            };
            let available = if b.available {
                "available"
            } else {
                "unavailable"
            };
            [b.name, available.to_string(), origin, b.detail]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    for [name, available, origin, detail] in &rows {
        println!("{name:<w0$}  {available:<w1$}  {origin}");
        if !detail.is_empty() {
            println!("{:<w0$}  {detail}", "");
        }
    }
    exit::OK
}
