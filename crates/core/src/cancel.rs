//! Stopping a long computation from another thread.
//!
//! A [`Cancel`] token is a shared flag. The drivers read it before each
//! chunk of paths (2,048 paths, a few milliseconds of one thread), so a run
//! stops within a chunk's time of [`Cancel::cancel`] and the API function
//! returns [`crate::Error::Cancelled`]; nothing of a cancelled run is
//! returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cancellation token; clones share one flag.
///
/// ```
/// let token = backlog_risk::Cancel::new();
/// let other = token.clone();
/// assert!(!token.is_cancelled());
/// other.cancel();
/// assert!(token.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token not (yet) cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask every computation holding this token (or a clone) to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once cancelled.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() { Err(crate::Error::Cancelled) } else { Ok(()) }
    }
}
