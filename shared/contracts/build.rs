//! Compiles `proto/` with protox (pure Rust, so no `protoc` on the machine) and
//! generates the prost types. Also writes the encoded descriptor set that
//! `file_descriptor_set_bytes()` exposes and the compatibility test compares
//! with the checked-in snapshot.

use std::error::Error;
use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn Error>> {
    let proto_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto")
        .canonicalize()?;
    // Only our own tree is watched: rewriting proto/descriptor_snapshot.binpb
    // must not rebuild the crate.
    let our_tree = proto_root.join("spotter");
    println!("cargo:rerun-if-changed={}", our_tree.display());

    let mut files = Vec::new();
    collect_protos(&our_tree, &mut files)?;
    // Sorted so the descriptor set, and thus the snapshot, is byte-stable.
    files.sort();

    let fds = protox::compile(&files, [&proto_root])?;

    // Comments are only needed for the generated docs; the runtime copy keeps
    // the imported well-known types so it is self-contained for reflection.
    let mut runtime = fds.clone();
    for file in &mut runtime.file {
        file.source_code_info = None;
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("spotter_descriptor_set.binpb"),
        runtime.encode_to_vec(),
    )?;

    prost_build::Config::new()
        // `impl prost::Name` for every message, so lib.rs can check TYPE_NAME.
        .enable_type_names()
        .compile_fds(fds)?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
