//! PNG pictures: `dfd eval --plot` ([`eval`]) and `dfd scan --plot` ([`scan`]).
//!
//! Drawn with plotters into an RGB buffer, written with the `png` crate.
//! Text is rasterised by plotters' `ab_glyph` feature from DejaVu Sans,
//! embedded in the binary (the `dejavu` crate ships the TTF; DejaVu's licence
//! is the permissive Bitstream Vera one), so no system font, fontconfig or
//! FreeType is needed: plotters' `ttf` feature would look fonts up through
//! fontconfig and draw no text on a machine without fonts.

pub mod eval;
pub mod scan;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::register_font;

const FONT: &str = "sans-serif";

const BONAFIDE_COLOR: RGBColor = RGBColor(31, 119, 180);
const SYNTHETIC_COLOR: RGBColor = RGBColor(214, 39, 40);
const CURVE_COLOR: RGBColor = RGBColor(44, 44, 44);
const MODEL_COLOR: RGBColor = RGBColor(44, 160, 44);
const GUIDE_COLOR: RGBColor = RGBColor(150, 150, 150);

type PlotResult = Result<(), String>;

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws a `width` × `height` picture with `draw` on a white canvas and
/// writes it to `path` as PNG.
fn render(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area) -> PlotResult,
) -> PlotResult {
    register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the embedded font does not load".to_string())?;
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    let file = File::create(path).map_err(err)?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&rgb).map_err(err)?;
    writer.finish().map_err(err)
}
