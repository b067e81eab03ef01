//! The seed scenarios live in this crate's examples.
