//! What the target being built needs: the `cfg`s the crate reads and the threaded module's link
//! arguments.

use std::env;

/// The target being built.
pub struct Target {
    /// wasm32 (the package's modules).
    pub wasm: bool,
    /// Built with `+atomics`: the threaded module's shared memory.
    pub atomics: bool,
}

/// Prints the `cfg`s and link arguments for this target, and returns what it is.
pub fn configure() -> Target {
    println!("cargo:rustc-check-cfg=cfg(reranker_selected)");
    println!("cargo:rustc-check-cfg=cfg(reranker_wgpu)");
    // The builds with burn's wgpu backend: the browser's single-threaded module, and native ones
    // with `native-webgpu`. NOTE: not the threaded wasm module (+atomics): wgpu's browser types
    // are not Send, which a shared memory makes wgpu require (Cargo.toml leaves it out there).
    let wasm = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    let atomics = env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|features| features.split(',').any(|f| f == "atomics"));
    if (wasm && !atomics) || (!wasm && env::var_os("CARGO_FEATURE_NATIVE_WEBGPU").is_some()) {
        println!("cargo:rustc-cfg=reranker_wgpu");
    }
    if wasm && atomics {
        // The threaded module: one memory shared by every thread, so imported (each worker
        // instantiates the module on the first one's), with a declared maximum (4 GiB, what the
        // single-threaded module may grow to), and the thread-local storage hooks wasm-bindgen
        // calls to set each thread up. NOTE: this rustc links +atomics objects without them.
        for arg in [
            "--shared-memory",
            "--import-memory",
            "--max-memory=4294967296",
            "--export=__wasm_init_tls",
            "--export=__tls_size",
            "--export=__tls_align",
            "--export=__tls_base",
        ] {
            println!("cargo:rustc-link-arg-cdylib={arg}");
        }
    }
    Target { wasm, atomics }
}
