//! Relaxed SIMD's kernels, from a side module that runs on this module's memory: its int8 dot
//! for `activations: 'i7'` (the integer sums of [`crate::kernels::int8_i7_matmul`]), and its
//! fused multiply-add for the f32 products of [`crate::kernels::f32_matmul`] (attention's, and
//! the linear layers' with f32 weights), on every CPU load.
//!
//! The side module (`src/kernels/relaxed_simd.wat`, assembled by crates/import/src/side_module.rs, under a kilobyte) is
//! embedded here. [`install`] validates it (a browser without relaxed SIMD refuses it), and checks
//! one product's sums against the plain loops before any product uses it. Each thread that runs
//! a product instantiates it once, on [`wasm_bindgen::memory`] (the shared memory, in the
//! threaded module), and calls its `sums` with pointers into that memory.
//!
//! NOTE: a side module, not this module built with `+relaxed-simd`: relaxed SIMD is all or
//! nothing per module (one such instruction and the whole module fails to validate where the
//! engine lacks it), and a third build of this crate would cost the package a build as long as
//! the other two. One call crosses to it per product part, against 384–1536 multiply-adds per
//! output, so the crossing costs nothing measurable.

use std::cell::OnceCell;

use js_sys::{Object, Reflect, Uint8Array, WebAssembly};
use wasm_bindgen::prelude::*;

use crate::kernels::f32_matmul::{self, Tiles};
use crate::kernels::int8_i7_matmul::{self, Sums};

/// The side module, with this build's memory import.
static SIDE_MODULE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/relaxed_simd.wasm"));

#[wasm_bindgen]
extern "C" {
    /// The side module's exports.
    type SideExports;

    /// `sums(x, rows, stride, w, blocks, quads, out)`; throws if the instance traps.
    #[wasm_bindgen(method, catch)]
    fn sums(
        this: &SideExports,
        x: u32,
        rows: u32,
        stride: u32,
        w: u32,
        blocks: u32,
        quads: u32,
        out: u32,
    ) -> Result<(), JsValue>;

    /// `products(x, x_stride, rows, w, inputs, blocks, scale, bias, out, out_stride)` (strides
    /// in bytes, bias 0 for none); throws if the instance traps.
    #[wasm_bindgen(method, catch)]
    #[allow(clippy::too_many_arguments)]
    fn products(
        this: &SideExports,
        x: u32,
        x_stride: u32,
        rows: u32,
        w: u32,
        inputs: u32,
        blocks: u32,
        scale: f32,
        bias: u32,
        out: u32,
        out_stride: u32,
    ) -> Result<(), JsValue>;
}

thread_local! {
    /// This thread's instance, made on its first product (`None` if that failed).
    static INSTANCE: OnceCell<Option<SideExports>> = const { OnceCell::new() };
}

/// Why a JS exception happened, in words.
fn reason(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "an unknown error".into())
}

/// Compiles and instantiates the side module on this module's memory.
fn instantiate() -> Result<SideExports, String> {
    let bytes = Uint8Array::from(SIDE_MODULE);
    if !WebAssembly::validate(&bytes).map_err(reason)? {
        return Err("this engine's WebAssembly has no relaxed SIMD".into());
    }
    // NOTE: synchronous compilation, allowed on any thread for a module this small (browsers
    // refuse it on a page's main thread only past 4 KB).
    let module = WebAssembly::Module::new(&bytes).map_err(reason)?;
    let env = Object::new();
    Reflect::set(&env, &"memory".into(), &wasm_bindgen::memory()).map_err(reason)?;
    let imports = Object::new();
    Reflect::set(&imports, &"env".into(), &env).map_err(reason)?;
    let instance = WebAssembly::Instance::new(&module, &imports).map_err(reason)?;
    Ok(instance.exports().unchecked_into())
}

/// Wasm32 pointers are 32-bit offsets into the memory the side module shares.
fn address<T>(slice: &[T]) -> u32 {
    slice.as_ptr() as usize as u32
}

/// Runs `call` on this thread's instance (made on first use); false where there is none.
fn with_instance(call: impl FnOnce(&SideExports) -> bool) -> bool {
    INSTANCE.with(|instance| {
        instance
            .get_or_init(|| instantiate().ok())
            .as_ref()
            .is_some_and(call)
    })
}

/// A [`int8_i7_matmul::SumsKernel`]: the side module's `sums`, on this thread's instance.
fn side_sums(job: &mut Sums<'_>) -> bool {
    let expected = job.rows * job.blocks * 4;
    if job.inputs.len() < job.rows * job.stride
        || job.weights.len() < job.blocks * job.quads * 16
        || job.out.len() < expected
        || !job.rows.is_multiple_of(int8_i7_matmul::TILE_ROWS)
        || !job.blocks.is_multiple_of(int8_i7_matmul::TILE_BLOCKS)
        || job.stride != job.quads * 4
    {
        return false; // not a shape the side module reads and writes within bounds
    }
    with_instance(|exports| {
        // SAFETY (of the memory the side module touches): it reads `rows · stride` bytes at
        // `inputs` and `blocks · quads · 16` at `weights`, and writes `rows · blocks · 4` i32 at
        // `out`, all checked above to lie within the slices, which live until it returns (the
        // call is synchronous).
        exports
            .sums(
                address(job.inputs),
                job.rows as u32,
                job.stride as u32,
                address(job.weights),
                job.blocks as u32,
                job.quads as u32,
                job.out.as_mut_ptr() as usize as u32,
            )
            .is_ok()
    })
}

/// A [`f32_matmul::TilesKernel`]: the side module's `products`, on this thread's instance.
fn side_products(job: &mut Tiles<'_>) -> bool {
    let columns = job.blocks * 8;
    let rows = job.rows;
    if rows == 0
        || !rows.is_multiple_of(f32_matmul::KERNEL_TILE_ROWS)
        || job.x.len() < (rows - 1) * job.x_stride + job.inputs
        || job.weights.len() < job.blocks * job.inputs * 8
        || job.bias.is_some_and(|bias| bias.len() < columns)
        || job.out.len() < (rows - 1) * job.out_stride + columns
    {
        return false; // not a shape the side module reads and writes within bounds
    }
    with_instance(|exports| {
        // SAFETY (of the memory the side module touches): it reads rows `r < rows` of `inputs`
        // values at `x + r · x_stride`, `blocks · inputs · 8` weights and `blocks · 8` bias
        // values, and writes `blocks · 8` values at `out + r · out_stride`, all checked above to
        // lie within the slices, which live until it returns (the call is synchronous).
        exports
            .products(
                address(job.x),
                (job.x_stride * 4) as u32,
                rows as u32,
                address(job.weights),
                job.inputs as u32,
                job.blocks as u32,
                job.scale,
                job.bias.map_or(0, address),
                job.out.as_mut_ptr() as usize as u32,
                (job.out_stride * 4) as u32,
            )
            .is_ok()
    })
}

/// Instantiates the side module on this thread, or says why it cannot.
fn instantiate_here() -> Result<(), String> {
    // Fails here, with the reason, where the engine refuses the module.
    let exports = instantiate()?;
    INSTANCE.with(|instance| {
        let _ = instance.set(Some(exports));
    });
    Ok(())
}

/// Makes the int8 products with 7-bit activations use the side module, or says why they cannot
/// (then the caller runs the i16 kernel instead).
pub(crate) fn install() -> Result<(), String> {
    if int8_i7_matmul::kernel_installed() {
        return Ok(());
    }
    instantiate_here()?;
    int8_i7_matmul::install_kernel(side_sums)
}

/// Makes the f32 products use the side module's fused multiply-add, or says why they cannot
/// (then the plain simd128 loops run them, as before).
pub(crate) fn install_products() -> Result<(), String> {
    if f32_matmul::kernel_installed() {
        return Ok(());
    }
    instantiate_here()?;
    f32_matmul::install_kernel(side_products)
}
