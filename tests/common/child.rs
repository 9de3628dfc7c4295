//! Re-running the test executable in a child process (for checks that the process aborts).

use std::process::Command;

/// A command that runs this test executable again: directly, or through the command in
/// `CLOSURE_FFI_TEST_RUNNER` when the runner sets one (scripts/qemu-aarch64-run: under
/// qemu-user without binfmt_misc, a guest executable cannot be exec'd directly).
pub fn self_command() -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let runner = std::env::var("CLOSURE_FFI_TEST_RUNNER").unwrap_or_default();
    let mut parts = runner.split_whitespace();
    match parts.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(parts).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}
