//! Spreads a kernel's rows over threads, when the build has them.
//!
//! With the `threads` feature the parts run on rayon's global pool: natively rayon's default one
//! (a thread per core, or `RAYON_NUM_THREADS`); in wasm the pool the JS loader starts on a
//! cross-origin isolated page ([`crate::web::threads`]), or the calling thread alone until then.
//! Without the feature every part runs in order on the calling thread, as one.
//!
//! NOTE: the parts are whole rows of the output, so each thread writes its own contiguous slice
//! and reads the shared operands (the weights) in place: no locks, no copies, and the same
//! arithmetic per row whatever the split, so results do not depend on the thread count.

/// Parts per thread when there are several: a thread that starts late (a sleeping worker takes
/// a while to wake) or runs slower leaves the others fewer rows to wait for.
///
/// NOTE: measured in Node with two threads (int8, full-shape model): with one part per thread
/// the loading thread spent about a tenth of its time waiting for the other's part.
const PARTS_PER_THREAD: usize = 4;

/// How many threads a kernel may spread its rows over (1 without a pool).
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Calls `task(first_row, rows, part)` for `out` (`rows × row_len` values) cut into parts of
/// whole rows (`part` holds `rows` of them), [`PARTS_PER_THREAD`] per thread at most, which the
/// pool's threads take as they come free. Each part but the last has a multiple of `align` rows
/// (a kernel's tile height), and no part is split off below `min_rows` rows, where a thread's
/// start costs more than it saves.
pub fn for_row_parts<T: Send>(
    out: &mut [T],
    row_len: usize,
    align: usize,
    min_rows: usize,
    task: impl Fn(usize, usize, &mut [T]) + Sync,
) {
    let rows = out.len().checked_div(row_len).unwrap_or(0);
    let part_rows = part_rows(rows, threads(), align.max(1), min_rows.max(1));
    if part_rows >= rows {
        task(0, rows, out);
        return;
    }
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(part_rows * row_len)
            .enumerate()
            .for_each(|(i, part)| task(i * part_rows, part.len() / row_len, part));
    }
    #[cfg(not(feature = "threads"))]
    for (i, part) in out.chunks_mut(part_rows * row_len).enumerate() {
        task(i * part_rows, part.len() / row_len, part);
    }
}

/// Calls `task(index, part)` for `out` cut into consecutive parts of the given lengths (which
/// must add up to at most `out.len()`; the rest is left alone), spread over the pool's threads
/// when there are several. Unlike [`for_row_parts`], the cut does not depend on the thread count:
/// for kernels whose arithmetic depends on the shape of a part.
pub fn for_each_part<T: Send>(
    out: &mut [T],
    lengths: impl IntoIterator<Item = usize>,
    task: impl Fn(usize, &mut [T]) + Sync,
) {
    let mut parts = Vec::new();
    let mut rest = out;
    for len in lengths {
        let (part, tail) = rest.split_at_mut(len);
        parts.push(part);
        rest = tail;
    }
    #[cfg(feature = "threads")]
    if threads() > 1 && parts.len() > 1 {
        use rayon::prelude::*;
        parts
            .into_par_iter()
            .enumerate()
            .for_each(|(i, part)| task(i, part));
        return;
    }
    for (i, part) in parts.into_iter().enumerate() {
        task(i, part);
    }
}

/// Rows per part: `rows` over [`PARTS_PER_THREAD`] parts per thread (one part for one thread),
/// rounded up to `align`, never below `min_rows`.
fn part_rows(rows: usize, threads: usize, align: usize, min_rows: usize) -> usize {
    let parts = if threads > 1 {
        threads * PARTS_PER_THREAD
    } else {
        1
    };
    rows.div_ceil(parts)
        .next_multiple_of(align)
        .max(min_rows)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_aligned_and_not_too_small() {
        // 100 rows over 4 threads: 16 parts of 7 rows, rounded up to 8.
        assert_eq!(part_rows(100, 4, 4, 8), 8);
        assert_eq!(part_rows(1000, 2, 4, 8), 128);
        assert_eq!(part_rows(100, 1, 4, 8), 100);
        assert_eq!(part_rows(10, 4, 4, 8), 8);
        assert_eq!(part_rows(0, 4, 4, 8), 8);
        assert_eq!(part_rows(7, 2, 1, 1), 1);
    }

    #[test]
    fn parts_of_given_lengths_are_visited_once_in_place() {
        let mut out = vec![0usize; 12];
        for_each_part(&mut out, [3, 0, 5, 2], |i, part| {
            part.iter_mut().for_each(|v| *v += i + 1)
        });
        assert_eq!(out, [1, 1, 1, 3, 3, 3, 3, 3, 4, 4, 0, 0]);
    }

    #[test]
    fn every_row_is_visited_once_with_its_index() {
        for (rows, row_len) in [(0, 3), (1, 3), (7, 2), (64, 5), (1000, 1)] {
            let mut out = vec![0usize; rows * row_len];
            for_row_parts(&mut out, row_len, 4, 2, |first_row, part_rows, part| {
                assert_eq!(part.len(), part_rows * row_len);
                for (r, row) in part.chunks_exact_mut(row_len).enumerate() {
                    row.iter_mut().for_each(|v| *v += first_row + r + 1);
                }
            });
            let expected: Vec<usize> = (0..rows)
                .flat_map(|r| std::iter::repeat_n(r + 1, row_len))
                .collect();
            assert_eq!(out, expected, "{rows} rows of {row_len}");
        }
    }
}
