//! A function hook, as game mods write them: a detour (here from the `retour` crate) patches
//! a native function so that every call runs a Rust closure instead. The closure keeps state
//! (a call log) and configuration (a multiplier chosen at run time), calls the original
//! function through the detour's trampoline, and changes its result. A detour can only jump
//! to a bare function pointer; `BareFnMut` makes the closure into one.
//!
//! The hooked function is `hook_target_scale` (`3 * x + 1`) from the tests' C peer, and it is
//! called from C, by `hook_call_scale`: the hook catches calls made by native code that knows
//! nothing about it.
//!
//! Run: `cargo run --example hooking [multiplier]`.

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    x86::main()
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
fn main() {
    eprintln!("this example needs x86 or x86_64: retour patches x86 code only");
}

/// The example proper (retour supports x86 and x86_64 only).
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
mod x86 {
    use std::cell::OnceCell;
    use std::error::Error;

    use closure_ffi::BareFnMut;
    use retour::GenericDetour;

    // The peer's C library is linked only if the program names the crate.
    use closure_ffi_test_support as _;

    /// The hooked function's type.
    type ScaleFn = unsafe extern "C" fn(i32) -> i32;

    extern "C" {
        /// `3 * x + 1` (in `test-support/c/hook_target.c`).
        fn hook_target_scale(x: i32) -> i32;
        /// Calls `hook_target_scale(x)` from C.
        fn hook_call_scale(x: i32) -> i32;
    }

    /// Calls the hooked function the way the rest of the "game" does: from C.
    fn game_calls_scale(x: i32) -> i32 {
        // SAFETY: a plain C function; when hooked, the hook is alive (see `main`).
        unsafe { hook_call_scale(x) }
    }

    pub fn main() -> Result<(), Box<dyn Error>> {
        let multiplier: i32 = match std::env::args().nth(1) {
            Some(arg) => arg.parse()?,
            None => 10,
        };
        let mut log = Vec::new();
        // The detour needs the closure's pointer before the trampoline exists, so the closure
        // reads the trampoline from a cell that is filled in right after.
        let original: OnceCell<ScaleFn> = OnceCell::new();

        println!("before hooking: scale(5) = {}", game_calls_scale(5));

        let replacement = BareFnMut::new_c(|x: i32| -> i32 {
            let original = original.get().expect("set before the detour is enabled");
            // SAFETY: the trampoline is the original function, valid while the detour lives.
            let result = unsafe { original(x) };
            log.push((x, result));
            result * multiplier
        });

        // SAFETY: `hook_target_scale` is a real (never inlined) function, patched while no
        // other thread runs it. The thunk has its exact type (GenericDetour checks) and is
        // dropped after the detour.
        let detour =
            unsafe { GenericDetour::<ScaleFn>::new(hook_target_scale, replacement.bare())? };
        // SAFETY: retour's trampoline is code with the signature of the hooked function.
        let trampoline = unsafe { std::mem::transmute::<&(), ScaleFn>(detour.trampoline()) };
        original.set(trampoline).expect("set once");

        // SAFETY: as for `GenericDetour::new`.
        unsafe { detour.enable()? };
        println!("hooked (x{multiplier}):");
        for x in [5, 6, -1] {
            println!("  scale({x}) = {}", game_calls_scale(x));
        }
        // SAFETY: the trampoline, while the detour is alive.
        let unhooked = unsafe { trampoline(5) };
        println!("  the original, through the trampoline: scale(5) = {unhooked}");

        // SAFETY: as for `enable`.
        unsafe { detour.disable()? };
        println!("unhooked: scale(5) = {}", game_calls_scale(5));

        // The patch goes first, then the closure it jumped to (which frees the borrow of `log`).
        drop(detour);
        drop(replacement);
        println!("the closure ran {} times; (x, original result):", log.len());
        for (x, result) in &log {
            println!("  ({x}, {result})");
        }
        Ok(())
    }
}
