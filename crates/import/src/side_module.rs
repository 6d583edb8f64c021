//! The relaxed-SIMD side module: `src/kernels/relaxed_simd.wat` assembled for the wasm builds.
//!
//! NOTE: a module of its own because one relaxed instruction makes a whole module fail to
//! validate where the engine lacks relaxed SIMD; `src/web/relaxed.rs` instantiates it only where
//! it validates (docs/design.md, "Kernels").

use std::fs;
use std::path::Path;

use crate::fail;

/// The relaxed-SIMD side module's source (see its header).
pub const RELAXED_KERNEL: &str = "src/kernels/relaxed_simd.wat";

/// Assembles the relaxed-SIMD side module into `OUT_DIR/relaxed_simd.wasm` with the memory
/// import of the module being built: the threaded module's memory is shared, and an import must
/// declare that (with a maximum, 4 GiB as the linker flags above give it).
pub fn assemble(manifest: &Path, out: &Path, shared: bool) {
    let source = fs::read_to_string(manifest.join(RELAXED_KERNEL))
        .unwrap_or_else(|e| fail(format!("reading {RELAXED_KERNEL}: {e}")));
    let memory = if shared {
        "(memory 1 65536 shared)"
    } else {
        "(memory 1)"
    };
    let text = source.replace(
        "(import \"env\" \"memory\" MEMORY)",
        &format!("(import \"env\" \"memory\" {memory})"),
    );
    let binary =
        wat::parse_str(&text).unwrap_or_else(|e| fail(format!("assembling {RELAXED_KERNEL}: {e}")));
    fs::write(out.join("relaxed_simd.wasm"), binary)
        .unwrap_or_else(|e| fail(format!("writing the relaxed-SIMD module: {e}")));
}
