;; The integer sums of `src/kernels/int8_i7_matmul.rs` on relaxed SIMD's int8 dot: a module
;; of its own because a module that uses relaxed SIMD fails to validate (whole) in an engine
;; without it. build/side_module.rs assembles it (the `wat` crate) with the memory import of the module that
;; embeds it (shared in the threaded one); `src/web/relaxed.rs` instantiates it on that memory.
;;
;; sums(x, rows, stride, w, blocks, quads, out): for every row r < rows and packed column
;; c < blocks * 4, out[r][c] = sum over k of w[c][k] * x[r][k] (i32), where
;;   x:   rows * stride bytes, each 0..=127 (rows a multiple of 4, stride = quads * 4);
;;   w:   blocks * quads * 16 signed bytes, [block][quad][4 columns][4 inputs] (blocks even);
;;   out: rows * blocks * 4 i32, overwritten.
;; Tiles of 4 rows x 2 blocks (8 accumulators, 2 weight and 4 input registers: 14 of the 16 SIMD
;; registers x86-64 gives an engine); the two blocks' weights (2 * quads * 16 bytes) stay in
;; L1 while every row tile streams past them.
(module
  (import "env" "memory" MEMORY)
  (func (export "sums")
    (param $x i32) (param $rows i32) (param $stride i32) (param $w i32)
    (param $blocks i32) (param $quads i32) (param $out i32)
    (local $block i32) (local $row i32) (local $q i32)
    (local $wp i32) (local $xp i32) (local $o i32)
    (local $block_bytes i32) (local $out_row_bytes i32)
    (local $w0 v128) (local $w1 v128) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local.set $block_bytes (i32.mul (local.get $quads) (i32.const 16)))
    (local.set $out_row_bytes (i32.mul (local.get $blocks) (i32.const 16)))
    (block $blocks_done (loop $each_block_pair
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
        (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $block) (local.get $block_bytes))))
        (local.set $xp (i32.add (local.get $x) (i32.mul (local.get $row) (local.get $stride))))
        (local.set $q (local.get $quads))
        (block $quads_done (loop $each_quad
          (br_if $quads_done (i32.eqz (local.get $q)))
          (local.set $w0 (v128.load (local.get $wp)))
          (local.set $w1 (v128.load (i32.add (local.get $wp) (local.get $block_bytes))))
          (local.set $x0 (v128.load32_splat (local.get $xp)))
          (local.set $x1 (v128.load32_splat (i32.add (local.get $xp) (local.get $stride))))
          (local.set $x2 (v128.load32_splat (i32.add (local.get $xp) (i32.shl (local.get $stride) (i32.const 1)))))
          (local.set $x3 (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $stride) (i32.const 3)))))
          (local.set $a00 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $x0) (local.get $a00)))
          (local.set $a01 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $x0) (local.get $a01)))
          (local.set $a10 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $x1) (local.get $a10)))
          (local.set $a11 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $x1) (local.get $a11)))
          (local.set $a20 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $x2) (local.get $a20)))
          (local.set $a21 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $x2) (local.get $a21)))
          (local.set $a30 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w0) (local.get $x3) (local.get $a30)))
          (local.set $a31 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $w1) (local.get $x3) (local.get $a31)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (local.set $q (i32.sub (local.get $q) (i32.const 1)))
          (br $each_quad)))
        ;; Row `row + r`, blocks `block` and `block + 1`: 8 consecutive i32.
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
        (local.set $row (i32.add (local.get $row) (i32.const 4)))
        (br $each_row_tile)))
      (local.set $block (i32.add (local.get $block) (i32.const 2)))
      (br $each_block_pair)))))
