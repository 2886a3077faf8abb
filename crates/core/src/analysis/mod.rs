//! Analyses built on the engine: what drives a metric.

pub mod attribution;
pub mod given;
pub mod sensitivity;
