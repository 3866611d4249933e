//! Whole-system tests live in `story.rs`; this crate has no library code.
