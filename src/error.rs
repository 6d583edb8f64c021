//! The crate's one error type. Every failure the core can meet is a variant here; nothing the
//! caller passes in may panic (a panic kills a wasm instance for good).

/// Everything that can go wrong in the reranker core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The query is empty or only whitespace.
    #[error("the query is empty")]
    EmptyQuery,
    /// `max_length` is outside what the model and the pair template allow.
    #[error("max_length {value} is out of range: it must be between {min} and {max}")]
    MaxLength {
        /// What was asked for.
        value: usize,
        /// `<s> </s></s> </s>`: four special tokens.
        min: usize,
        /// The model's position table.
        max: usize,
    },
    /// A numeric option is out of range.
    #[error("{name} must be {expected}, got {value}")]
    InvalidOption {
        /// The option's name.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What was given.
        value: String,
    },
    /// An argument of the wrong type or shape (a query that is not a string, a pair of three).
    #[error("{0}")]
    InvalidArgument(String),
    /// The tokenizer file could not be read, or does not fit the model.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The weights file is missing, truncated, corrupt or for another model.
    #[error("weights: {0}")]
    Weights(String),
    /// The backend failed while running the model or reading results back.
    #[error("inference failed: {0}")]
    Inference(String),
    /// The requested device cannot be used.
    #[error("device: {0}")]
    Device(String),
    /// The GPU device was lost (driver reset, device destroyed, GPU gone): every later call on it
    /// fails. The JS wrapper reloads the model on the CPU and retries when it sees this.
    #[error("the WebGPU device was lost: {0}")]
    DeviceLost(String),
    /// The caller cancelled the call (an `AbortSignal` fired); checked between batches.
    #[error("the call was aborted")]
    Aborted,
    /// Memory for a batch could not be had: the wasm heap (4 GiB at most) or the process is full.
    #[error("out of memory: {what} needs {bytes} bytes that could not be allocated")]
    OutOfMemory {
        /// What the memory was for.
        what: String,
        /// How much was asked for.
        bytes: usize,
    },
}

/// Every code [`Error::code`] gives, once each: the JS `RerankerError` codes (js/errors.js and
/// js/index.d.ts are checked against this list by the package's tests).
pub const CODES: [&str; 8] = [
    "INVALID_INPUT",
    "MODEL_LOAD",
    "INTEGRITY",
    "INFERENCE",
    "DEVICE",
    "DEVICE_LOST",
    "ABORTED",
    "OUT_OF_MEMORY",
];

impl Error {
    /// A stable, machine-readable code for the error's kind (used as the JS `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::EmptyQuery
            | Error::MaxLength { .. }
            | Error::InvalidOption { .. }
            | Error::InvalidArgument(_) => "INVALID_INPUT",
            Error::Tokenizer(_) | Error::Weights(_) => "MODEL_LOAD",
            Error::Inference(_) => "INFERENCE",
            Error::Device(_) => "DEVICE",
            Error::DeviceLost(_) => "DEVICE_LOST",
            Error::Aborted => "ABORTED",
            Error::OutOfMemory { .. } => "OUT_OF_MEMORY",
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant (the match makes a new variant fail to compile here until it is listed).
    fn one_of_each() -> Vec<Error> {
        let all = vec![
            Error::EmptyQuery,
            Error::MaxLength {
                value: 0,
                min: 4,
                max: 512,
            },
            Error::InvalidOption {
                name: "n",
                expected: "e",
                value: "v".into(),
            },
            Error::InvalidArgument("a".into()),
            Error::Tokenizer("t".into()),
            Error::Weights("w".into()),
            Error::Inference("i".into()),
            Error::Device("d".into()),
            Error::DeviceLost("l".into()),
            Error::Aborted,
            Error::OutOfMemory {
                what: "m".into(),
                bytes: 1,
            },
        ];
        for e in &all {
            match e {
                Error::EmptyQuery
                | Error::MaxLength { .. }
                | Error::InvalidOption { .. }
                | Error::InvalidArgument(_)
                | Error::Tokenizer(_)
                | Error::Weights(_)
                | Error::Inference(_)
                | Error::Device(_)
                | Error::DeviceLost(_)
                | Error::Aborted
                | Error::OutOfMemory { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_code_is_listed_and_every_listed_code_but_integrity_is_given() {
        let given: Vec<&str> = one_of_each().iter().map(Error::code).collect();
        for code in &given {
            assert!(CODES.contains(code), "{code} is not in CODES");
        }
        // NOTE: INTEGRITY is the JS side's alone (js/files.js checks the files' sha256).
        for code in CODES {
            assert!(
                given.contains(&code) || code == "INTEGRITY",
                "{code} is never given"
            );
        }
    }
}
