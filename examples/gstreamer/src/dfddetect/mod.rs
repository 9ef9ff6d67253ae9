//! The `dfddetect` element (see imp.rs for what it does).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct DfdDetect(ObjectSubclass<imp::DfdDetect>)
        @extends gst_audio::AudioFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "dfddetect",
        gst::Rank::NONE,
        DfdDetect::static_type(),
    )
}
