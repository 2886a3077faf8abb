//! The command line of backlog-risk: a front-end over the core library
//! (`backlog_risk`, in `crates/core`). It owns what the core must not do:
//! parse flags ([`cli`]), print to the console and show progress, and write
//! files ([`files`], [`outdir`]). [`app`] holds the commands.

// Comparisons such as `!(max > min)` are deliberate: they reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod app;
pub mod cli;
pub mod errors;
pub mod files;
pub mod interrupt;
pub mod outdir;
