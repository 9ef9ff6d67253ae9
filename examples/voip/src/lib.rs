//! dfd-voip-monitor as a library: RTP payload decoding, a per-SSRC jitter
//! buffer and the monitor that feeds one libdfd stream per SSRC. The
//! binary (`main.rs`) adds the UDP socket, output and the hook.

pub mod g711;
pub mod jitter;
pub mod monitor;
pub mod payload;
