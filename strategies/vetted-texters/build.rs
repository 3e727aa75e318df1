//! Links the component with a 64 KiB stack instead of Rust's default 1 MiB. A strategy needs
//! little stack, and a small memory lets the host reset the pages a request wrote in place
//! instead of releasing and faulting them back (a few microseconds per request). Recursing
//! deeper than the stack allows traps, failing that one request.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-cdylib-link-arg=-zstack-size=65536");
    }
}
