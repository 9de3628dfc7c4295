//! One line per case: `ok`, `refused: <ThunkError>` or `WRONG: got .., want ..`.

use std::fmt::Debug;
use std::io::Write;

use closure_ffi::ThunkError;

/// Counts of the three outcomes.
#[derive(Debug, Default)]
pub struct Report {
    /// The thunk was created and every call returned the expected value.
    pub ok: usize,
    /// The constructor returned an error (allowed: refusing is the safe answer).
    pub refused: usize,
    /// A thunk returned something else than expected (a bug).
    pub wrong: usize,
}

/// What one case came to.
enum Outcome {
    Ok,
    Refused(ThunkError),
    Wrong(String),
}

impl Report {
    /// Announces `case` (flushed, so that a crash shows which case it was), runs it and
    /// prints its outcome: `run` returns `(got, want)` or the constructor's error.
    ///
    /// Only the call of `run` is generic over the case; the rest is shared, which keeps the
    /// build short (this crate is built once per configuration).
    #[inline(never)]
    pub fn case<T: PartialEq + Debug>(
        &mut self,
        case: &str,
        run: impl FnOnce() -> Result<(T, T), ThunkError>,
    ) {
        announce(case);
        let outcome = match run() {
            Ok((got, want)) if got == want => Outcome::Ok,
            Ok((got, want)) => Outcome::Wrong(mismatch(&got, &want)),
            Err(e) => Outcome::Refused(e),
        };
        self.record(outcome);
    }

    /// Counts and prints an outcome.
    #[inline(never)]
    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                println!("ok");
            }
            Outcome::Refused(e) => {
                self.refused += 1;
                println!("refused: {e}");
            }
            Outcome::Wrong(what) => {
                self.wrong += 1;
                println!("WRONG: {what}");
            }
        }
    }
}

/// Prints `<case>: ` and flushes it.
#[inline(never)]
fn announce(case: &str) {
    let mut out = std::io::stdout().lock();
    // Output errors (a closed pipe) do not change the outcome; ignore them.
    let _ = write!(out, "{case}: ");
    let _ = out.flush();
}

/// `got .., want ..`.
#[inline(never)]
fn mismatch<T: Debug>(got: &T, want: &T) -> String {
    format!("got {got:?}, want {want:?}")
}
