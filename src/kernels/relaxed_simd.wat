;; The kernels on relaxed SIMD: the integer sums of `src/kernels/int8_i7_matmul.rs` on its int8
;; dot, and the f32 products of `src/kernels/f32_matmul.rs` on its fused multiply-add. A module
;; of its own because a module that uses relaxed SIMD fails to validate (whole) in an engine
;; without it. crates/import/src/side_module.rs assembles it (the `wat` crate) with the memory
;; import of the module that embeds it (shared in the threaded one); `src/web/relaxed.rs`
;; instantiates it on that memory.
;;
;; sums(x, rows, stride, w, blocks, quads, out): for every row r < rows and packed column
;; c < blocks * 4, out[r][c] = sum over k of w[c][k] * x[r][k] (i32), where
;;   x:   rows * stride bytes, each 0..=127 (rows a multiple of 6, stride = quads * 4);
;;   w:   blocks * quads * 16 signed bytes, [block][quad][4 columns][4 inputs] (blocks even);
;;   out: rows * blocks * 4 i32, overwritten.
;; Tiles of 6 rows x 2 blocks: 12 accumulators, 2 weight registers and 1 input register, 15 of
;; x86-64's 16 SIMD registers (V8 keeps the 16th as its scratch register). The two blocks'
;; weights (2 * quads * 16 bytes) stay in L1 while every row tile streams past them.
;; NOTE: measured in Chromium on this model's shapes (2040 rows; 384 x 1536, 1536 x 384 and
;; 384 x 384): 6 x 2 ran 1.13-1.24x the 4 x 2 tile; 5 x 2 and 3 x 3 less, 4 x 3, 3 x 4, 7 x 2,
;; 8 x 2 and 10 x 1 slower than 4 x 2 (registers spilled).
;;
;; products(x, x_stride, rows, w, inputs, blocks, scale, bias, out, out_stride): for every row
;; r < rows and column c < blocks * 8, out[r][c] = scale * (sum over k of x[r][k] * w[c][k]) +
;; bias[c] (f32; no bias where `bias` is 0), where
;;   x:    rows starting x_stride bytes apart, each `inputs` f32 (rows a multiple of 6);
;;   w:    blocks * inputs * 8 f32, [block][input][8 columns] (f32_matmul.rs's PackedF32);
;;   bias: blocks * 8 f32, or 0;
;;   out:  rows starting out_stride bytes apart, each blocks * 8 f32 written.
;; Tiles of 6 rows x 8 columns: 12 accumulators, 2 weight and 1 input registers, as above.
;; NOTE: `f32x4.relaxed_madd` is one fused instruction where the CPU has FMA (V8 on x86-64 with
;; FMA3) and a multiply and an add elsewhere: either way a rounding of the plain kernel's, which
;; `src/web/relaxed.rs` checks before first use. Measured in Chromium on attention's shapes (64 x
;; 32 x 512, 64 x 512 x 32, 64 x 32 x 128, 64 x 128 x 32) and 2040 x 384 x 1536: 1.23-1.38x a
;; multiply and an add in 4 x 8 tiles (6 x 8 tiles without fusing: 0.77-1.0x).
(module
  (import "env" "memory" MEMORY)
  (func (export "sums")
    (param $x i32) (param $rows i32) (param $stride i32) (param $w i32)
    (param $blocks i32) (param $quads i32) (param $out i32)
    (local $block i32) (local $row i32) (local $q i32)
    (local $wp i32) (local $xp i32) (local $o i32)
    (local $block_bytes i32) (local $out_row_bytes i32)
    (local $w0 v128) (local $w1 v128) (local $xv v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128) (local $a40 v128) (local $a41 v128) (local $a50 v128) (local $a51 v128)
    (local.set $block_bytes (i32.mul (local.get $quads) (i32.const 16)))
    (local.set $out_row_bytes (i32.mul (local.get $blocks) (i32.const 16)))
    (block $blocks_done (loop $each_block_group
      (br_if $blocks_done (i32.ge_u (local.get $block) (local.get $blocks)))
      (local.set $row (i32.const 0))
      (block $rows_done (loop $each_row_tile
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $a00 (v128.const i32x4 0 0 0 0))
        (local.set $a01 (v128.const i32x4 0 0 0 0))
        (local.set $a10 (v128.const i32x4 0 0 0 0))
        (local.set $a11 (v128.const i32x4 0 0 0 0))
        (local.set $a20 (v128.const i32x4 0 0 0 0))
        (local.set $a21 (v128.const i32x4 0 0 0 0))
        (local.set $a30 (v128.const i32x4 0 0 0 0))
        (local.set $a31 (v128.const i32x4 0 0 0 0))
        (local.set $a40 (v128.const i32x4 0 0 0 0))
        (local.set $a41 (v128.const i32x4 0 0 0 0))
        (local.set $a50 (v128.const i32x4 0 0 0 0))
        (local.set $a51 (v128.const i32x4 0 0 0 0))
        (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $block) (local.get $block_bytes))))
        (local.set $xp (i32.add (local.get $x) (i32.mul (local.get $row) (local.get $stride))))
        (local.set $q (local.get $quads))
        (block $quads_done (loop $each_quad
          (br_if $quads_done (i32.eqz (local.get $q)))
          (local.set $w0 (v128.load (local.get $wp)))
          (local.set $w1 (v128.load (i32.add (local.get $wp) (i32.mul (local.get $block_bytes) (i32.const 1)))))
          (local.set $xv (v128.load32_splat (local.get $xp)))
          (local.set $a00 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $xv) (local.get $a00)))
          (local.set $a01 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $xv) (local.get $a01)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $stride) (i32.const 1)))))
          (local.set $a10 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $xv) (local.get $a10)))
          (local.set $a11 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $xv) (local.get $a11)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $stride) (i32.const 2)))))
          (local.set $a20 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $xv) (local.get $a20)))
          (local.set $a21 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $xv) (local.get $a21)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $stride) (i32.const 3)))))
          (local.set $a30 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $xv) (local.get $a30)))
          (local.set $a31 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $xv) (local.get $a31)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $stride) (i32.const 4)))))
          (local.set $a40 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $xv) (local.get $a40)))
          (local.set $a41 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $xv) (local.get $a41)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $stride) (i32.const 5)))))
          (local.set $a50 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $xv) (local.get $a50)))
          (local.set $a51 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $xv) (local.get $a51)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (local.set $q (i32.sub (local.get $q) (i32.const 1)))
          (br $each_quad)))
        (local.set $o (i32.add (local.get $out)
          (i32.add (i32.mul (local.get $row) (local.get $out_row_bytes)) (i32.mul (local.get $block) (i32.const 16)))))
        (v128.store (local.get $o) (local.get $a00))
        (v128.store offset=16 (local.get $o) (local.get $a01))
        (local.set $o (i32.add (local.get $o) (local.get $out_row_bytes)))
        (v128.store (local.get $o) (local.get $a10))
        (v128.store offset=16 (local.get $o) (local.get $a11))
        (local.set $o (i32.add (local.get $o) (local.get $out_row_bytes)))
        (v128.store (local.get $o) (local.get $a20))
        (v128.store offset=16 (local.get $o) (local.get $a21))
        (local.set $o (i32.add (local.get $o) (local.get $out_row_bytes)))
        (v128.store (local.get $o) (local.get $a30))
        (v128.store offset=16 (local.get $o) (local.get $a31))
        (local.set $o (i32.add (local.get $o) (local.get $out_row_bytes)))
        (v128.store (local.get $o) (local.get $a40))
        (v128.store offset=16 (local.get $o) (local.get $a41))
        (local.set $o (i32.add (local.get $o) (local.get $out_row_bytes)))
        (v128.store (local.get $o) (local.get $a50))
        (v128.store offset=16 (local.get $o) (local.get $a51))
        (local.set $row (i32.add (local.get $row) (i32.const 6)))
        (br $each_row_tile)))
      (local.set $block (i32.add (local.get $block) (i32.const 2)))
      (br $each_block_group))))
  (func (export "products")
    (param $x i32) (param $x_stride i32) (param $rows i32) (param $w i32) (param $inputs i32)
    (param $blocks i32) (param $scale f32) (param $bias i32) (param $out i32) (param $out_stride i32)
    (local $block i32) (local $row i32) (local $k i32)
    (local $wp i32) (local $xp i32) (local $o i32) (local $bp i32)
    (local $w0 v128) (local $w1 v128) (local $xv v128) (local $s v128) (local $b0 v128) (local $b1 v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128) (local $a40 v128) (local $a41 v128) (local $a50 v128) (local $a51 v128)
    (local.set $s (f32x4.splat (local.get $scale)))
    (block $blocks_done (loop $each_block
      (br_if $blocks_done (i32.ge_u (local.get $block) (local.get $blocks)))
      (local.set $row (i32.const 0))
      (block $rows_done (loop $each_row_tile
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $a00 (v128.const i32x4 0 0 0 0))
        (local.set $a01 (v128.const i32x4 0 0 0 0))
        (local.set $a10 (v128.const i32x4 0 0 0 0))
        (local.set $a11 (v128.const i32x4 0 0 0 0))
        (local.set $a20 (v128.const i32x4 0 0 0 0))
        (local.set $a21 (v128.const i32x4 0 0 0 0))
        (local.set $a30 (v128.const i32x4 0 0 0 0))
        (local.set $a31 (v128.const i32x4 0 0 0 0))
        (local.set $a40 (v128.const i32x4 0 0 0 0))
        (local.set $a41 (v128.const i32x4 0 0 0 0))
        (local.set $a50 (v128.const i32x4 0 0 0 0))
        (local.set $a51 (v128.const i32x4 0 0 0 0))
        (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $block) (i32.shl (local.get $inputs) (i32.const 5)))))
        (local.set $xp (i32.add (local.get $x) (i32.mul (local.get $row) (local.get $x_stride))))
        (local.set $k (local.get $inputs))
        (block $k_done (loop $each_k
          (br_if $k_done (i32.eqz (local.get $k)))
          (local.set $w0 (v128.load (local.get $wp)))
          (local.set $w1 (v128.load offset=16 (local.get $wp)))
          (local.set $xv (v128.load32_splat (local.get $xp)))
          (local.set $a00 (f32x4.relaxed_madd (local.get $xv) (local.get $w0) (local.get $a00)))
          (local.set $a01 (f32x4.relaxed_madd (local.get $xv) (local.get $w1) (local.get $a01)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $x_stride) (i32.const 1)))))
          (local.set $a10 (f32x4.relaxed_madd (local.get $xv) (local.get $w0) (local.get $a10)))
          (local.set $a11 (f32x4.relaxed_madd (local.get $xv) (local.get $w1) (local.get $a11)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $x_stride) (i32.const 2)))))
          (local.set $a20 (f32x4.relaxed_madd (local.get $xv) (local.get $w0) (local.get $a20)))
          (local.set $a21 (f32x4.relaxed_madd (local.get $xv) (local.get $w1) (local.get $a21)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $x_stride) (i32.const 3)))))
          (local.set $a30 (f32x4.relaxed_madd (local.get $xv) (local.get $w0) (local.get $a30)))
          (local.set $a31 (f32x4.relaxed_madd (local.get $xv) (local.get $w1) (local.get $a31)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $x_stride) (i32.const 4)))))
          (local.set $a40 (f32x4.relaxed_madd (local.get $xv) (local.get $w0) (local.get $a40)))
          (local.set $a41 (f32x4.relaxed_madd (local.get $xv) (local.get $w1) (local.get $a41)))
          (local.set $xv (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $x_stride) (i32.const 5)))))
          (local.set $a50 (f32x4.relaxed_madd (local.get $xv) (local.get $w0) (local.get $a50)))
          (local.set $a51 (f32x4.relaxed_madd (local.get $xv) (local.get $w1) (local.get $a51)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 32)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $each_k)))
        ;; No bias (a null pointer): zeros.
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (if (local.get $bias) (then
          (local.set $bp (i32.add (local.get $bias) (i32.shl (local.get $block) (i32.const 5))))
          (local.set $b0 (v128.load (local.get $bp)))
          (local.set $b1 (v128.load offset=16 (local.get $bp)))))
        (local.set $o (i32.add (local.get $out) (i32.add (i32.mul (local.get $row) (local.get $out_stride)) (i32.shl (local.get $block) (i32.const 5)))))
        (v128.store (local.get $o) (f32x4.add (f32x4.mul (local.get $a00) (local.get $s)) (local.get $b0)))
        (v128.store offset=16 (local.get $o) (f32x4.add (f32x4.mul (local.get $a01) (local.get $s)) (local.get $b1)))
        (local.set $o (i32.add (local.get $o) (local.get $out_stride)))
        (v128.store (local.get $o) (f32x4.add (f32x4.mul (local.get $a10) (local.get $s)) (local.get $b0)))
        (v128.store offset=16 (local.get $o) (f32x4.add (f32x4.mul (local.get $a11) (local.get $s)) (local.get $b1)))
        (local.set $o (i32.add (local.get $o) (local.get $out_stride)))
        (v128.store (local.get $o) (f32x4.add (f32x4.mul (local.get $a20) (local.get $s)) (local.get $b0)))
        (v128.store offset=16 (local.get $o) (f32x4.add (f32x4.mul (local.get $a21) (local.get $s)) (local.get $b1)))
        (local.set $o (i32.add (local.get $o) (local.get $out_stride)))
        (v128.store (local.get $o) (f32x4.add (f32x4.mul (local.get $a30) (local.get $s)) (local.get $b0)))
        (v128.store offset=16 (local.get $o) (f32x4.add (f32x4.mul (local.get $a31) (local.get $s)) (local.get $b1)))
        (local.set $o (i32.add (local.get $o) (local.get $out_stride)))
        (v128.store (local.get $o) (f32x4.add (f32x4.mul (local.get $a40) (local.get $s)) (local.get $b0)))
        (v128.store offset=16 (local.get $o) (f32x4.add (f32x4.mul (local.get $a41) (local.get $s)) (local.get $b1)))
        (local.set $o (i32.add (local.get $o) (local.get $out_stride)))
        (v128.store (local.get $o) (f32x4.add (f32x4.mul (local.get $a50) (local.get $s)) (local.get $b0)))
        (v128.store offset=16 (local.get $o) (f32x4.add (f32x4.mul (local.get $a51) (local.get $s)) (local.get $b1)))
        (local.set $row (i32.add (local.get $row) (i32.const 6)))
        (br $each_row_tile)))
      (local.set $block (i32.add (local.get $block) (i32.const 1)))
      (br $each_block)))))
