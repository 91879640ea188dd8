//! Build script: compiles the gRPC API's .proto files into Rust with protox, a protobuf compiler written in
//! Rust, so building never needs a system `protoc`.
//!
//! Outputs in `OUT_DIR`: the prost/tonic code for package `smsbridge.v1`, and the encoded
//! `FileDescriptorSet` (`smsbridge_v1_descriptor.bin`) that server reflection serves.

use std::path::PathBuf;

const PROTO_ROOT: &str = "src/api/proto";
const PROTOS: &[&str] = &["smsbridge/v1/gateway.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={PROTO_ROOT}/{proto}");
    }
    println!("cargo:rerun-if-changed=src/api/build.rs");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    // Source info keeps the .proto comments, which become the generated code's doc comments; imports keep the
    // well-known types (Duration, Timestamp) in the set so reflection clients can resolve them.
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTOS)?;
    std::fs::write(
        out_dir.join("smsbridge_v1_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .btree_map(".")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
