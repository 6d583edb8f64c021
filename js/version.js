// web-reranker: the package's version (Cargo.toml's; tests/js/package.test.mjs checks that they
// agree). Part of the key of `auto`'s stored device verdict (device-choice.js): a new version
// measures again, since its kernels may differ.
export const VERSION = '0.1.0';
