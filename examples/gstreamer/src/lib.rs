//! GStreamer plugin `dfd` with one element, `dfddetect`: a passthrough
//! audio filter that scores the audio for synthetic speech with libdfd and
//! posts a `dfd-score` element message per analysis window and at EOS.
//! It uses libdfd's public Rust API only (an integration is a leaf).

use gst::glib;

mod dfddetect;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    dfddetect::register(plugin)
}

gst::plugin_define!(
    dfd,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    // GStreamer's registry knows "MIT/X11"; the crate is MIT OR Apache-2.0.
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "libdfd: examples/gstreamer"
);
