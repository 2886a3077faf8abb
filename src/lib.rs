//! The command line of backlog-risk: a front-end over the core library
//! (`backlog_risk`, in `crates/core`). It owns what the core must not do:
//! parse flags ([`cli`]) and print to the console and show progress; it
//! writes files through the front-ends' file crate (`crates/files`:
//! [`files`], [`outdir`]). [`app`] holds the commands.

// Comparisons such as `!(max > min)` are deliberate: they reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod app;
pub mod cli;
pub mod errors;
pub mod interrupt;
pub use backlog_risk_files::{files, outdir};
