//! Ctrl-C. The first press cancels the work under way through a
//! [`backlog_risk::Cancel`] token that every command's observer holds: the
//! engine stops between chunks (milliseconds), staging folders are removed,
//! and the command says what was written and what was not before it exits
//! with 130, the shell's status for an interrupt. A second press ends the
//! process at once (the next writer removes its staging folders).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use backlog_risk::Cancel;

/// The exit status of an interrupted command (128 + SIGINT).
pub const STATUS: u8 = 130;

static TOKEN: OnceLock<Cancel> = OnceLock::new();
static PRESSES: AtomicU32 = AtomicU32::new(0);

/// The token that Ctrl-C cancels (the handler is installed by [`install`]).
pub fn token() -> Cancel {
    TOKEN.get_or_init(Cancel::new).clone()
}

/// Install the Ctrl-C handler; a failure to install it leaves the default
/// (the process ends at once), which is said on stderr.
pub fn install() {
    let token = token();
    let installed = ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
            token.cancel();
            eprintln!("\ninterrupted: stopping the work under way (Ctrl-C again to stop at once)");
        } else {
            std::process::exit(STATUS.into());
        }
    });
    if let Err(e) = installed {
        eprintln!("note: Ctrl-C will end the process at once ({e})");
    }
}

/// Whether Ctrl-C was pressed.
pub fn happened() -> bool {
    token().is_cancelled()
}
