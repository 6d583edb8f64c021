// What the kernel bench compiles from the package (`include!`d by lib.rs; the paths are relative
// to this file): the kernels' run-time dispatch macro reduced to its wasm case (it only picks
// AVX2 natively), their helpers as the package compiles them without `threads`, and the int8
// kernel.

/// The kernels' run-time dispatch macro, reduced to what wasm needs (one build).
macro_rules! with_best_simd {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $body
    };
}

#[path = "../../../src/parallel.rs"]
#[allow(dead_code, unexpected_cfgs)]
mod parallel;
#[path = "../../../src/kernels/parts.rs"]
mod parts;
#[path = "../../../src/kernels/int8_matmul.rs"]
#[allow(dead_code)]
mod int8_matmul;
