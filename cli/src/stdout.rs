//! Standard output that a closed pipe silences instead of killing archipel.
//!
//! `archipel fmt --check --diff | head -1` closes archipel's stdout early.
//! Rust's `outln!` panics then (exit 101). Dying of SIGPIPE, as C tools do,
//! would be wrong too: apply must finish the changes it started, and its
//! SSH children's pipes must not kill it. So a write to a closed stdout is
//! dropped, later ones too, and the command ends with the exit status it
//! would have had: `fmt --check` still says whether a file needs formatting.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);
static WRITTEN: AtomicBool = AtomicBool::new(false);

/// Whether what goes to stdout is coloured: only on a terminal, and never
/// when NO_COLOR is set (<https://no-color.org>).
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && no_color_unset()
}

/// The same for stderr, where diagnostics go.
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && no_color_unset()
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether anything was printed on stdout: a command asked for JSON that
/// printed nothing still owes its caller a JSON document.
pub fn anything_written() -> bool {
    WRITTEN.load(Ordering::Relaxed)
}

pub fn write(text: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    WRITTEN.store(true, Ordering::Relaxed);
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: cannot write to standard output: {error}");
        }
    }
}

/// `print!` to [`write`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*)) };
}

/// `outln!` to [`write`].
macro_rules! outln {
    () => { $crate::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*))) };
}
