;; The integer sums of `src/kernels/int8_i7_matmul.rs` on relaxed SIMD's int8 dot: a module
;; of its own because a module that uses relaxed SIMD fails to validate (whole) in an engine
;; without it. crates/import/src/side_module.rs assembles it (the `wat` crate) with the memory
;; import of the module that embeds it (shared in the threaded one); `src/web/relaxed.rs` instantiates it on that memory.
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
      (br $each_block_group)))))
