//! Compiles proto/aide/v1 with protox (pure Rust, so no system `protoc` is needed) and
//! generates prost messages plus tonic clients and servers.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = ["common", "coordinator", "gateway", "runner"]
        .map(|name| root.join(format!("aide/v1/{name}.proto")));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .file_descriptor_set_path(out_dir.join("aide_descriptor.bin"))
        .compile_fds(descriptors)?;
    Ok(())
}
