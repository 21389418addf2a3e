//! Generates the gRPC service and messages of ca/proto/fulcio.proto. protox
//! parses the file in Rust, so building Atesto needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/fulcio.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    // The client is generated too (without a transport) for the tests' tonic client.
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
