//! Function hooks, the main use of closure-ffi besides C callbacks: a real detour (`retour`)
//! patches a C function of the peer so that every call, from Rust or from C code, runs a
//! capturing Rust closure behind a `BareFn*` thunk, which calls the original through the
//! detour's trampoline and changes the result.
//!
//! - `bare_fn_mut_replaces_a_c_function_until_disabled`: a `BareFnMut` with captured state
//!   as the replacement; original behaviour before enabling and after disabling; the detour
//!   dropped before the thunk.
//! - `a_hooking_library_wraps_the_user_closure_with_thunk_factory`: a generic hook type
//!   built with `thunk_factory::make_mut` and `BareFnMut::with_thunk`, as a hooking library
//!   would write it (any signature, the trampoline stored for the user's closure).
//! - `a_hook_with_ints_a_double_and_a_pointer`: a signature beyond one integer.
//! - `a_thiscall_member_function_hook` (i686 only): a C++-style member function, the common
//!   case in 32-bit games, through `retour::RawDetour` (retour's typed detours support
//!   `thiscall` only with its `thiscall-abi` feature).
//!
//! Each test hooks its own function (`test-support/c/hook_target.c`): the harness runs tests
//! on parallel threads, and a function must not be patched while another thread runs it.
//! `retour::GenericDetour` is used because it works on stable Rust (`StaticDetour` needs
//! nightly) and checks that the replacement has the target's exact type.

// x86 only: retour (the detour library) patches x86 code only; thunks themselves are
// covered on every architecture by the other tests.
#![cfg(all(
    feature = "default_jit_alloc",
    any(target_arch = "x86_64", target_arch = "x86")
))]

use std::cell::{Cell, OnceCell};
use std::error::Error;
use std::rc::Rc;

use closure_ffi::traits::FnPtr;
use closure_ffi::{thunk_factory, BareFn, BareFnMut};
use retour::GenericDetour;

// The peer's C library is linked only if the test names the crate.
use closure_ffi_test_support as _;

type SquareFn = unsafe extern "C" fn(i32) -> i32;
type PackFn = unsafe extern "C" fn(u32, u8) -> u32;
type MixFn = unsafe extern "C" fn(i32, i64, f64, *const i32) -> f64;

extern "C" {
    /// `x * x - 5`.
    fn hook_target_square(x: i32) -> i32;
    /// Calls `hook_target_square` from C.
    fn hook_call_square(x: i32) -> i32;
    /// `(a << 8) | b`.
    fn hook_target_pack(a: u32, b: u8) -> u32;
    /// Calls `hook_target_pack` from C.
    fn hook_call_pack(a: u32, b: u8) -> u32;
    /// `(a + b + *p) * scale`.
    fn hook_target_mix(a: i32, b: i64, scale: f64, p: *const i32) -> f64;
    /// Calls `hook_target_mix` from C.
    fn hook_call_mix(a: i32, b: i64, scale: f64, p: *const i32) -> f64;
}

/// Calls `hook_target_square` directly (from Rust) and through its C caller.
fn square_from_rust_and_c(x: i32) -> (i32, i32) {
    // SAFETY: plain C functions of this signature; when hooked, the hook is alive.
    unsafe { (hook_target_square(x), hook_call_square(x)) }
}

#[test]
fn bare_fn_mut_replaces_a_c_function_until_disabled() -> Result<(), Box<dyn Error>> {
    let calls = Cell::new(0u32); // read while hooked
    let mut seen = Vec::new(); // read once the hook is gone
    let bonus = 1000; // a configuration value

    // Filled in once the detour exists: the detour needs the thunk first.
    let original: OnceCell<SquareFn> = OnceCell::new();

    let replacement = BareFnMut::new_c(|x: i32| -> i32 {
        calls.set(calls.get() + 1);
        seen.push(x);
        let original = original.get().expect("set before the detour is enabled");
        // SAFETY: the trampoline is `hook_target_square`'s relocated prologue followed by a
        // jump into the rest of it: a function of the same type, alive as long as the detour.
        let squared = unsafe { original(x) };
        squared + bonus
    });

    // SAFETY: `hook_target_square` is a real, non-inlined function (`noipa`) that no other
    // thread runs; the thunk has its exact type and outlives the detour (dropped below).
    let detour = unsafe { GenericDetour::<SquareFn>::new(hook_target_square, replacement.bare())? };
    // SAFETY: retour's trampoline is code with the target's signature (see above).
    let trampoline = unsafe { std::mem::transmute::<&(), SquareFn>(detour.trampoline()) };
    original.set(trampoline).expect("set once");

    // Created but not enabled: the function is untouched.
    assert_eq!(square_from_rust_and_c(7), (44, 44));
    assert_eq!(calls.get(), 0);

    // SAFETY: no other thread runs `hook_target_square` while it is patched.
    unsafe { detour.enable()? };
    assert!(detour.is_enabled());
    assert_eq!(square_from_rust_and_c(7), (1044, 1044));
    assert_eq!(square_from_rust_and_c(-3), (1004, 1004));
    assert_eq!(calls.get(), 4, "Rust and C calls went through the closure");
    // The trampoline bypasses the hook.
    // SAFETY: as above.
    let (via_detour, via_trampoline) = unsafe { (detour.call(7), trampoline(7)) };
    assert_eq!((via_detour, via_trampoline), (44, 44));
    assert_eq!(calls.get(), 4);

    // SAFETY: as for `enable`.
    unsafe { detour.disable()? };
    assert_eq!(square_from_rust_and_c(7), (44, 44));
    assert_eq!(calls.get(), 4);

    // Enabling again reuses the same thunk and state.
    // SAFETY: as above.
    unsafe { detour.enable()? };
    assert_eq!(square_from_rust_and_c(10), (1095, 1095));
    assert_eq!(calls.get(), 6);

    // Teardown order: the patch goes first (retour's `Drop` disables an enabled detour),
    // then the thunk it jumped to. The borrow checker keeps `seen` locked until then.
    drop(detour);
    assert_eq!(square_from_rust_and_c(10), (95, 95));
    drop(replacement);
    assert_eq!(seen, [7, 7, -3, -3, 10, 10]);
    assert_eq!(square_from_rust_and_c(2), (-1, -1));
    Ok(())
}

/// A detour whose replacement is a Rust closure, generic over the hooked function's type:
/// the kind of type a hooking library writes on top of closure-ffi.
///
/// The library wraps the user's closure in its own: that one fetches the trampoline (the
/// library's state) and passes it to the user's closure with the packed arguments. Because
/// it takes the packed argument tuple `B::Args`, `thunk_factory::make_mut` turns it into a
/// thunk for any `B` (any arity, any calling convention), where `BareFnMut::new_c` would need
/// a closure of one concrete signature.
struct ClosureHook<'a, B: FnPtr + retour::Function> {
    // Declared first, so dropped first: retour's `Drop` restores the target before the
    // thunk it jumps to is freed.
    detour: GenericDetour<B>,
    thunk: BareFnMut<'a, B>,
}

/// `FnMut(B, B::Args) -> B::Ret`, the user's side of a [`ClosureHook`]. A trait of its own
/// because `for<'x> FnMut(.., B::Args<'x, ..>) -> B::Ret<'x, ..>` is rejected (E0582: a
/// lifetime that only appears in a projection does not constrain the output); the same
/// reason as closure-ffi's `PackedFnMut`.
trait HookFn<'x, 'y, 'z, B: FnPtr>: FnMut(B, B::Args<'x, 'y, 'z>) -> B::Ret<'x, 'y, 'z> {}

impl<'x, 'y, 'z, B: FnPtr, F> HookFn<'x, 'y, 'z, B> for F where
    F: FnMut(B, B::Args<'x, 'y, 'z>) -> B::Ret<'x, 'y, 'z>
{
}

impl<'a, B: FnPtr + retour::Function> ClosureHook<'a, B> {
    /// Prepares a (disabled) detour of `target` to `hook`, which receives the original
    /// function and the arguments.
    ///
    /// # Safety
    /// `target` must be a function of type `B` that can be patched: not inlined into its
    /// callers, and not running on another thread while the hook is enabled or disabled.
    unsafe fn new<F>(target: B, mut hook: F) -> retour::Result<Self>
    where
        F: for<'x, 'y, 'z> HookFn<'x, 'y, 'z, B> + 'a,
    {
        // The trampoline exists only once the detour does, and the detour needs the thunk:
        // the closure shares a slot that is filled in before the hook can be enabled.
        let trampoline: Rc<OnceCell<B>> = Rc::default();
        let slot = Rc::clone(&trampoline);
        let thunk = BareFnMut::with_thunk(thunk_factory::make_mut::<B, _>(move |args| {
            let original = *slot.get().expect("set before the detour is enabled");
            hook(original, args)
        }));
        // SAFETY: the caller vouches for `target`; the thunk has type `B` and is dropped
        // after the detour (field order).
        let detour = unsafe { GenericDetour::new(target, thunk.bare())? };
        // SAFETY: the trampoline runs the target's relocated prologue and jumps into the
        // rest of it: a function of type `B`, alive as long as the detour.
        let original = unsafe { <B as FnPtr>::from_ptr(detour.trampoline() as *const ()) };
        if trampoline.set(original).is_err() {
            unreachable!("the slot is filled only here");
        }
        Ok(Self { detour, thunk })
    }

    /// Routes calls of the target to the closure.
    fn enable(&self) -> retour::Result<()> {
        // SAFETY: `new`'s contract covers patching the target.
        unsafe { self.detour.enable() }
    }

    /// Restores the target.
    fn disable(&self) -> retour::Result<()> {
        // SAFETY: as for `enable`.
        unsafe { self.detour.disable() }
    }

    /// The original function, which bypasses the hook.
    fn original(&self) -> B {
        // SAFETY: as in `new`.
        unsafe { <B as FnPtr>::from_ptr(self.detour.trampoline() as *const ()) }
    }

    /// The replacement's address (the thunk the target now jumps to).
    fn replacement(&self) -> B {
        self.thunk.bare()
    }
}

/// Calls `hook_target_pack` directly (from Rust) and through its C caller.
fn pack_from_rust_and_c(a: u32, b: u8) -> (u32, u32) {
    // SAFETY: plain C functions of this signature; when hooked, the hook is alive.
    unsafe { (hook_target_pack(a, b), hook_call_pack(a, b)) }
}

#[test]
fn a_hooking_library_wraps_the_user_closure_with_thunk_factory() -> Result<(), Box<dyn Error>> {
    let calls = Cell::new(0u32);
    let mask = 0xFF00_0000u32; // a configuration value

    let user_hook = |original: PackFn, (a, b): (u32, u8)| -> u32 {
        calls.set(calls.get() + 1);
        // Change an argument on the way in and the result on the way out.
        // SAFETY: the original function, while the hook is alive.
        let packed = unsafe { original(a + 1, b) };
        packed | mask
    };
    // SAFETY: `hook_target_pack` is non-inlined (`noipa`), and only this test runs it.
    let hook = unsafe { ClosureHook::<PackFn>::new(hook_target_pack, user_hook)? };
    assert_ne!(
        FnPtr::to_ptr(hook.replacement()),
        FnPtr::to_ptr(hook_target_pack as PackFn)
    );

    assert_eq!(pack_from_rust_and_c(0x12, 0x34), (0x1234, 0x1234));
    hook.enable()?;
    assert_eq!(pack_from_rust_and_c(0x12, 0x34), (0xFF00_1334, 0xFF00_1334));
    assert_eq!(calls.get(), 2);
    // SAFETY: the original function, while the hook is alive.
    assert_eq!(unsafe { hook.original()(0x12, 0x34) }, 0x1234);
    // Packed-argument calls (what generic library code does) go the same way.
    // SAFETY: as above.
    let packed = unsafe { FnPtr::call(hook_target_pack as PackFn, (0x56, 0x78)) };
    assert_eq!(packed, 0xFF00_5778);
    assert_eq!(calls.get(), 3);

    hook.disable()?;
    assert_eq!(pack_from_rust_and_c(0x12, 0x34), (0x1234, 0x1234));
    hook.enable()?;
    assert_eq!(pack_from_rust_and_c(0, 0xFF), (0xFF00_01FF, 0xFF00_01FF));
    assert_eq!(calls.get(), 5);

    // Dropped while enabled: the detour restores the target, then the thunk is freed.
    drop(hook);
    assert_eq!(pack_from_rust_and_c(0x12, 0x34), (0x1234, 0x1234));
    assert_eq!(calls.get(), 5);
    Ok(())
}

#[test]
fn a_hook_with_ints_a_double_and_a_pointer() -> Result<(), Box<dyn Error>> {
    let redirected = 100i32; // the hook substitutes its own pointee
    let calls = Cell::new(0u32);
    let original: OnceCell<MixFn> = OnceCell::new();

    let replacement = BareFn::new_c(|a: i32, b: i64, scale: f64, p: *const i32| -> f64 {
        calls.set(calls.get() + 1);
        // SAFETY: callers pass a valid pointer.
        let pointee = unsafe { *p };
        let original = original.get().expect("set before the detour is enabled");
        // SAFETY: the original function (the trampoline), while the detour is alive; the
        // pointer is to a live local.
        let result = unsafe { original(a, b, scale * 2.0, &redirected) };
        result + f64::from(pointee) / 4.0
    });

    // SAFETY: `hook_target_mix` is non-inlined (`noipa`), and only this test runs it; the
    // thunk has its type and outlives the detour.
    let detour = unsafe { GenericDetour::<MixFn>::new(hook_target_mix, replacement.bare())? };
    // SAFETY: retour's trampoline is code with the target's signature.
    let trampoline = unsafe { std::mem::transmute::<&(), MixFn>(detour.trampoline()) };
    original.set(trampoline).expect("set once");

    let pointee = 6i32;
    let big = 1i64 << 40; // does not fit in 32 bits: checks both halves on i686
    let from_rust_and_c = |a, b, scale| {
        // SAFETY: a valid pointer to a live local; the hook (if enabled) is alive.
        unsafe {
            (
                hook_target_mix(a, b, scale, &pointee),
                hook_call_mix(a, b, scale, &pointee),
            )
        }
    };

    let unhooked = (-2.0 + 1_099_511_627_776.0 + 6.0) * 0.5;
    assert_eq!(from_rust_and_c(-2, big, 0.5), (unhooked, unhooked));

    // SAFETY: no other thread runs `hook_target_mix` while it is patched.
    unsafe { detour.enable()? };
    // (a + b + 100) * (2 * scale) + 6 / 4
    let hooked = (-2.0 + 1_099_511_627_776.0 + 100.0) * 1.0 + 1.5;
    assert_eq!(from_rust_and_c(-2, big, 0.5), (hooked, hooked));
    assert_eq!(calls.get(), 2);
    // SAFETY: the original function, while the detour is alive.
    assert_eq!(unsafe { detour.call(-2, big, 0.5, &pointee) }, unhooked);

    // SAFETY: as for `enable`.
    unsafe { detour.disable()? };
    assert_eq!(from_rust_and_c(-2, big, 0.5), (unhooked, unhooked));
    assert_eq!(calls.get(), 2);

    drop(detour);
    drop(replacement);
    Ok(())
}

/// `HookPlayer` of `test-support/c/hook_target.c`.
#[cfg(target_arch = "x86")]
#[repr(C)]
#[derive(Debug, PartialEq)]
struct Player {
    health: i32,
    armor: i32,
}

#[cfg(target_arch = "x86")]
type DamageFn = unsafe extern "thiscall" fn(*mut Player, i32) -> i32;

#[cfg(target_arch = "x86")]
extern "C" {
    /// Calls `hook_target_damage`, a `thiscall` function, from C.
    fn hook_call_damage(player: *mut Player, amount: i32) -> i32;
}

#[cfg(target_arch = "x86")]
extern "thiscall" {
    /// Takes `amount - armor` damage; returns the health left.
    fn hook_target_damage(player: *mut Player, amount: i32) -> i32;
}

#[cfg(target_arch = "x86")]
#[test]
fn a_thiscall_member_function_hook() -> Result<(), Box<dyn Error>> {
    let mut hero = Player {
        health: 100,
        armor: 5,
    };
    let hero_ptr: *mut Player = &mut hero;
    let mut damage_to_others = 0;
    let original: OnceCell<DamageFn> = OnceCell::new();

    // "God mode" for one player: their damage is ignored, everyone else's is tallied.
    let replacement = BareFnMut::new_thiscall(|this: *mut Player, amount: i32| -> i32 {
        let original = original.get().expect("set before the detour is enabled");
        if this == hero_ptr {
            // SAFETY: the game passes a valid player.
            return unsafe { (*this).health };
        }
        damage_to_others += amount;
        // SAFETY: the original function, while the detour is alive; a valid player.
        unsafe { original(this, amount) }
    });

    // SAFETY: `hook_target_damage` is non-inlined (`noipa`), and only this test runs it; the
    // thunk has its exact type and outlives the detour.
    let detour = unsafe {
        retour::RawDetour::new(
            hook_target_damage as DamageFn as *const (),
            replacement.bare() as *const (),
        )?
    };
    // SAFETY: retour's trampoline is code with the target's signature.
    let trampoline = unsafe { std::mem::transmute::<&(), DamageFn>(detour.trampoline()) };
    original.set(trampoline).expect("set once");

    // The game hitting a player: from C, and directly.
    // SAFETY: valid players; while the function is patched, the hook is alive.
    let hit_from_c = |player: *mut Player, amount: i32| unsafe { hook_call_damage(player, amount) };
    // SAFETY: as above.
    let hit = |player: *mut Player, amount: i32| unsafe { hook_target_damage(player, amount) };

    let mut foe = Player {
        health: 50,
        armor: 0,
    };
    let foe_ptr: *mut Player = &mut foe;
    assert_eq!(hit_from_c(hero_ptr, 20), 85);
    // SAFETY: no other thread runs `hook_target_damage` while it is patched.
    unsafe { detour.enable()? };
    assert_eq!(hit_from_c(hero_ptr, 20), 85);
    assert_eq!(hit(hero_ptr, 20), 85);
    assert_eq!(hit_from_c(foe_ptr, 7), 43);
    assert_eq!(hit(foe_ptr, 3), 40);
    // SAFETY: as for `enable`.
    unsafe { detour.disable()? };
    assert_eq!(hit_from_c(hero_ptr, 20), 70);

    drop(detour);
    drop(replacement);
    assert_eq!(damage_to_others, 10);
    assert_eq!(
        hero,
        Player {
            health: 70,
            armor: 5
        }
    );
    Ok(())
}
