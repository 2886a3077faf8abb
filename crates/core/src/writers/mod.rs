//! Writers: result structures in, bytes out. Each function returns the
//! bytes of one file (CSV, JSON, HTML, PNG, shard); the front-ends decide
//! where they go. Nothing here touches the file system.

pub mod charts;
pub mod export;
pub mod html;
pub mod output;
pub mod shard;
pub mod text;
pub mod xlsx;
