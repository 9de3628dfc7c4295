//! How an aborted child process looks to its parent, per OS.

use std::process::ExitStatus;

/// Whether `status` is that of a process ended by `std::process::abort` (which is also how
/// a panic that may not unwind ends).
///
/// Unix: killed by SIGABRT. Windows: std aborts with `__fastfail(FAST_FAIL_FATAL_APP_EXIT)`,
/// which ends the process with `STATUS_STACK_BUFFER_OVERRUN` (0xC0000409) as its exit code.
pub fn is_abort(status: &ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(6)
    }
    #[cfg(windows)]
    {
        status.code() == Some(0xC000_0409_u32 as i32)
    }
}
