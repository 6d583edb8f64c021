//! How the matrix kernels split their work over threads ([`crate::parallel`]): packing weights
//! block by block, and a product in parts of whole rows.
//!
//! NOTE: free of burn, like the kernels that use it, so `bench/kernels` compiles the same
//! files into its wasm module.

/// What both matrix kernels' packing does: `packed` holds one block of `block_len` values per
/// `block_columns` output columns (of `outputs`), and `pack(columns, block)` fills each block
/// from its columns (the last block's may be fewer), block by block on the pool's threads
/// ([`crate::parallel`]), at least `min_blocks` to a part.
pub(crate) fn pack_column_blocks<T: Send>(
    packed: &mut [T],
    block_len: usize,
    block_columns: usize,
    outputs: usize,
    min_blocks: usize,
    pack: impl Fn(std::ops::Range<usize>, &mut [T]) + Sync,
) {
    if block_len == 0 {
        return; // no inputs: the blocks are empty
    }
    crate::parallel::for_row_parts(packed, block_len, 1, min_blocks, |first, _, part| {
        for (b, block) in part.chunks_exact_mut(block_len).enumerate() {
            let start = (first + b) * block_columns;
            pack(start..(start + block_columns).min(outputs), block);
        }
    });
}

/// What both matrix kernels do around their product `out = x · W + bias`: check the sizes, pad
/// the bias with zeros to `padded_columns`, then run `product(x_rows, rows, padded_bias,
/// out_rows)` on parts of whole rows, spread over threads ([`crate::parallel`]) in multiples of
/// `tile_rows` and never below two tiles.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product_in_row_parts(
    x: &[f32],
    rows: usize,
    [inputs, outputs]: [usize; 2],
    bias: Option<&[f32]>,
    padded_columns: usize,
    tile_rows: usize,
    out: &mut [f32],
    product: impl Fn(&[f32], usize, &[f32], &mut [f32]) + Sync,
) {
    assert_eq!(x.len(), rows * inputs, "input size");
    assert_eq!(out.len(), rows * outputs, "output size");
    let mut padded_bias = vec![0f32; padded_columns];
    if let Some(bias) = bias {
        assert_eq!(bias.len(), outputs, "one bias per output column");
        padded_bias[..outputs].copy_from_slice(bias);
    }
    crate::parallel::for_row_parts(
        out,
        outputs,
        tile_rows,
        2 * tile_rows,
        |first, rows, out| {
            product(
                &x[first * inputs..(first + rows) * inputs],
                rows,
                &padded_bias,
                out,
            )
        },
    );
}

/// Runs `use_buffer` on `len` values of this thread's buffer `key`, grown as needed and kept
/// for the next call. The values are a previous call's: `use_buffer` writes all it reads.
/// (A nested call on the same buffer, which no kernel makes, gets a fresh one.)
pub(crate) fn with_scratch<T: Copy + Default + 'static, R>(
    key: &'static std::thread::LocalKey<std::cell::RefCell<Vec<T>>>,
    len: usize,
    use_buffer: impl FnOnce(&mut [T]) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, T::default());
            }
            use_buffer(&mut buffer[..len])
        }
        Err(_) => use_buffer(&mut vec![T::default(); len]),
    })
}
