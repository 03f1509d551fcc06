//! Compiles `quickstep/v1/*.proto` with protox (a pure-Rust protobuf compiler: no system
//! `protoc`), then generates the Rust types with prost-build and their proto3 JSON serde impls
//! with pbjson-build.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "quickstep/v1/start.proto",
    "quickstep/v1/result.proto",
    "quickstep/v1/history.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=quickstep");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // The well-known imports (google/protobuf/*.proto) are built into protox.
    let fds = protox::Compiler::new(["."])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?
        .file_descriptor_set();
    let descriptor_bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out_dir.join("quickstep_descriptor.bin"), &descriptor_bytes)?;

    prost_build::Config::new()
        // Stops prost-build mapping google.protobuf to prost-types, so the paths below apply.
        .compile_well_known_types()
        // Timestamp and Struct come from this crate (src/wkt.rs), whose proto3 JSON is
        // canonical; anything else from google.protobuf comes from pbjson-types.
        .extern_path(".google.protobuf.Timestamp", "crate::wkt::Timestamp")
        .extern_path(".google.protobuf.Struct", "crate::wkt::Struct")
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        // Forward compatibility: a reader skips JSON fields it does not know, as binary
        // protobuf does, so a newer producer never breaks an older worker.
        .ignore_unknown_fields()
        .build(&[".quickstep"])?;

    Ok(())
}
