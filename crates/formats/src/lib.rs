//! The formats of the model files that the importer (crates/import) writes at build time and
//! the engine reads at load time, in one crate both depend on, so the writer and the reader are
//! the same code: the int8 weights' quantization and tensor names ([`quant`]) and
//! `tokenizer.bin` ([`tokenizer_bin`]).

pub mod quant;
pub mod tokenizer_bin;
