//! Gives libdfd.so its versioned soname; affects only this crate's cdylib.
fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdfd.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
