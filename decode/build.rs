//! Gives libdfd_decode.so its versioned soname (as libdfd's build.rs does
//! for libdfd.so), so apps and the Python binding load `libdfd_decode.so.0`.
fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdfd_decode.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
