//! Generates the CRI v1 messages and gRPC server traits from the vendored `proto/api.proto`.
//! protox parses the file in Rust, so building needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/api.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        // berthd is the server; the tests talk to it with crictl, the reference client.
        .build_client(false)
        // RPCs this slice does not serve answer UNIMPLEMENTED, as gRPC prescribes.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
