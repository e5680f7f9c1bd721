//! Links `berth-shim` as a position-dependent executable (`-no-pie`).
//!
//! Why: one monitor process stays resident per running container. A PIE's loader writes a
//! relocation into nearly every page of its `.data.rel.ro` (vtables, panic locations, string
//! tables: 310 kB here), turning each into a private copy — 308 kB of the monitor's 456 kB of
//! anonymous memory, paid again by every container. Linked at a fixed address those pages stay
//! clean page cache shared by all monitors. The cost is that the shim's own image is not
//! randomised (its stack, heap, libraries and mappings still are); the shim takes no network
//! input, and its sockets are root-only.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=berth-shim=-no-pie");
    }
}
