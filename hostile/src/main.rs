//! Hostile prologues: thunks in the shapes real programs produce, for every calling-convention
//! marker of the target, checked against the value each call must return.
//!
//! The thunk templates are monomorphized in this crate, so the compiler flags this crate is
//! built with (`scripts/hostile-prologues` builds it with each optimisation level, frame
//! pointers, `panic=abort`, coverage instrumentation, ...) decide what their prologues look
//! like. Every case prints one line: `ok`, `refused: <ThunkError>` (a `try_` constructor
//! declined the template: allowed) or `WRONG: got .., want ..`. The exit status is non-zero
//! only when a result was wrong; a crash is a failure of course.
//!
//! Shapes (see `shapes.rs`): `BareFn` at every arity 0..=12 with mixed argument types, a
//! zero-sized closure, `BareFnMut` state, `BareFnOnce` (`bare` and `into_bare`), big
//! captures, local arrays of 5000 B, 70000 B and 1 MiB (stack probes), float-heavy
//! signatures and conversions, a struct returned by value, `catch_unwind` inside the closure,
//! and with `-unwind` markers a panic that unwinds out of the thunk into the caller.

#[macro_use]
mod shapes;
mod report;
mod values;

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;

use report::Report;

/// Counts the drops of the [`DropToken`]s it hands out.
#[derive(Default)]
struct DropCount(Rc<Cell<usize>>);

impl DropCount {
    /// A value that increments this count when dropped.
    fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }

    /// Drops so far.
    fn get(&self) -> usize {
        self.0.get()
    }
}

/// See [`DropCount`].
struct DropToken(Rc<Cell<usize>>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// The markers of the target: `suite!` modules and the list of their `run` functions.
macro_rules! markers {
    ($($(#[cfg($cfg:meta)])? $name:ident: $marker:ident $abi:literal $unwind:ident;)*) => {
        $(
            $(#[cfg($cfg)])?
            suite!($name, $marker, $abi, $unwind);
        )*

        /// Every marker's suite, in order.
        const SUITES: &[fn(&mut Report)] = &[$($(#[cfg($cfg)])? $name::run,)*];
    };
}

markers! {
    rust: Rust "Rust" nounwind;
    c: C "C" nounwind;
    c_unwind: CUnwind "C-unwind" unwind;
    system: System "system" nounwind;
    system_unwind: SystemUnwind "system-unwind" unwind;
    efiapi: Efiapi "efiapi" nounwind;
    #[cfg(target_arch = "x86_64")] sysv64: Sysv64 "sysv64" nounwind;
    #[cfg(target_arch = "x86_64")] sysv64_unwind: Sysv64Unwind "sysv64-unwind" unwind;
    #[cfg(target_arch = "x86_64")] win64: Win64 "win64" nounwind;
    #[cfg(target_arch = "x86_64")] win64_unwind: Win64Unwind "win64-unwind" unwind;
    #[cfg(target_arch = "x86")] cdecl: Cdecl "cdecl" nounwind;
    #[cfg(target_arch = "x86")] cdecl_unwind: CdeclUnwind "cdecl-unwind" unwind;
    #[cfg(target_arch = "x86")] stdcall: Stdcall "stdcall" nounwind;
    #[cfg(target_arch = "x86")] stdcall_unwind: StdcallUnwind "stdcall-unwind" unwind;
    #[cfg(target_arch = "x86")] fastcall: Fastcall "fastcall" nounwind;
    #[cfg(target_arch = "x86")] fastcall_unwind: FastcallUnwind "fastcall-unwind" unwind;
    #[cfg(target_arch = "x86")] thiscall: Thiscall "thiscall" nounwind;
    #[cfg(target_arch = "x86")] thiscall_unwind: ThiscallUnwind "thiscall-unwind" unwind;
    #[cfg(target_arch = "arm")] aapcs: Aapcs "aapcs" nounwind;
    #[cfg(target_arch = "arm")] aapcs_unwind: AapcsUnwind "aapcs-unwind" unwind;
}

fn main() -> ExitCode {
    // The unwinding cases panic on purpose: keep the default message for any other panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<values::Unlucky>().is_none() {
            default_hook(info);
        }
    }));

    let mut report = Report::default();
    for run in SUITES {
        run(&mut report);
    }
    println!(
        "hostile: {} ok, {} refused, {} wrong ({}, debug_assertions={}, panic={})",
        report.ok,
        report.refused,
        report.wrong,
        std::env::consts::ARCH,
        cfg!(debug_assertions),
        if cfg!(panic = "abort") {
            "abort"
        } else {
            "unwind"
        },
    );
    if report.wrong == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
