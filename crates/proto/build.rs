//! Compiles proto/aide/v1 with protox (pure Rust, so no system `protoc` is needed) and
//! generates prost messages plus tonic clients and servers.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "admin",
        "bundle",
        "common",
        "coordinator",
        "gateway",
        "runner",
        "sweep",
    ]
    .map(|name| root.join(format!("aide/v1/{name}.proto")));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Kept for gRPC reflection; compile_fds does not write it itself.
    std::fs::write(
        out_dir.join("aide_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
