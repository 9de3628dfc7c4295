//! Hand-written thunk templates: prologues the relocator must refuse with an error value
//! (never a crash), and one with a RIP-relative operand it must relocate and run correctly.
//!
//! Each template is plain assembly ending in the real stub shape (`mov r, placeholder;
//! jmp over magic; magic`), wired to a thunk value through the `FnThunk` traits.

#![cfg(any(target_arch = "x86_64", target_arch = "x86"))]

use closure_ffi::thunk::{RelocError, ThunkError};
use closure_ffi::traits::{FnMutThunk, FnOnceThunk, FnPtr, FnThunk};
use closure_ffi::{BareFn, GlobalJitAlloc};

type Bare = unsafe extern "C" fn() -> u64;

/// Declares a thunk value type whose `Fn` template is the assembly symbol `$sym`.
macro_rules! hostile {
    ($name:ident, $sym:ident) => {
        #[allow(dead_code)]
        struct $name(u64);
        extern "C" {
            fn $sym() -> u64;
        }
        // SAFETY: test templates; only the `Fn` template is used, and it reads `*const Self`.
        unsafe impl FnOnceThunk<Bare> for $name {
            const THUNK_TEMPLATE_ONCE: *const u8 = $sym as *const u8;
            unsafe fn call_once<'a, 'b, 'c>(
                self,
                _: <Bare as FnPtr>::Args<'a, 'b, 'c>,
            ) -> <Bare as FnPtr>::Ret<'a, 'b, 'c> {
                self.0
            }
        }
        // SAFETY: as above.
        unsafe impl FnMutThunk<Bare> for $name {
            const THUNK_TEMPLATE_MUT: *const u8 = $sym as *const u8;
            unsafe fn call_mut<'a, 'b, 'c>(
                &mut self,
                _: <Bare as FnPtr>::Args<'a, 'b, 'c>,
            ) -> <Bare as FnPtr>::Ret<'a, 'b, 'c> {
                self.0
            }
        }
        // SAFETY: as above.
        unsafe impl FnThunk<Bare> for $name {
            const THUNK_TEMPLATE: *const u8 = $sym as *const u8;
            unsafe fn call<'a, 'b, 'c>(
                &self,
                _: <Bare as FnPtr>::Args<'a, 'b, 'c>,
            ) -> <Bare as FnPtr>::Ret<'a, 'b, 'c> {
                self.0
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
macro_rules! stub {
    () => {
        "movabs rax, 0xC1F57AB00C1F5AB0\n jmp 2f\n .byte 0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0x90\n 2:\n"
    };
}
#[cfg(target_arch = "x86")]
macro_rules! stub {
    () => {
        "mov eax, 0xC1F57AB0\n jmp 2f\n .byte 0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0x90\n 2:\n"
    };
}

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    // No stub at all within the scan window: a ret, then 8 KiB of int3.
    ".globl cffi_test_no_stub",
    "cffi_test_no_stub:",
    "ret",
    ".fill 8192, 1, 0xcc",
    // A `ret` before the stub: control flow leaves the prologue.
    ".p2align 4",
    ".globl cffi_test_ret_first",
    "cffi_test_ret_first:",
    "ret",
    stub!(),
    "ret",
    // The magic without the stub's mov/jmp in front of it.
    ".p2align 4",
    ".globl cffi_test_malformed",
    "cffi_test_malformed:",
    "nop",
    "nop",
    ".byte 0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0x90",
    "ret",
    // An indirect jump before the stub.
    ".p2align 4",
    ".globl cffi_test_indirect",
    "cffi_test_indirect:",
    ".byte 0xff, 0xe1", // jmp rcx / jmp ecx
    stub!(),
    "ret",
);

// x86_64 only: a RIP-relative operand that also uses the stack pointer (cannot go through a
// scratch register pushed on that stack), and a RIP-relative lea that must be relocated and
// executed.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl cffi_test_rip_push",
    "cffi_test_rip_push:",
    "push qword ptr [rip + cffi_test_data]",
    stub!(),
    "pop rcx",
    "ret",
    // Returns *closure + data: the `lea` must keep pointing at `cffi_test_data` from the copy.
    ".p2align 4",
    ".globl cffi_test_rip_lea",
    "cffi_test_rip_lea:",
    "lea rcx, [rip + cffi_test_data]",
    stub!(),
    "mov rax, qword ptr [rax]",
    "add rax, qword ptr [rcx]",
    "ret",
    ".data",
    ".p2align 3",
    "cffi_test_data:",
    ".quad 1000",
    ".text",
);

hostile!(NoStub, cffi_test_no_stub);
hostile!(RetFirst, cffi_test_ret_first);
hostile!(Malformed, cffi_test_malformed);
hostile!(Indirect, cffi_test_indirect);

fn create<T>(value: T) -> Result<BareFn<'static, Bare>, ThunkError>
where
    T: FnThunk<Bare> + 'static,
{
    BareFn::<Bare>::try_with_thunk_in(value, GlobalJitAlloc)
}

#[test]
fn missing_stub_is_an_error() {
    let err = create(NoStub(1)).expect_err("a template without stub must be refused");
    assert_eq!(err, ThunkError::Relocation(RelocError::StubNotFound));
}

#[test]
fn ret_before_stub_is_an_error() {
    match create(RetFirst(1)) {
        Err(ThunkError::Relocation(RelocError::Unsupported { offset: 0, .. })) => {}
        other => panic!("expected Unsupported at offset 0, got {other:?}"),
    }
}

#[test]
fn magic_without_stub_is_an_error() {
    let err = create(Malformed(1)).expect_err("a magic without its stub must be refused");
    assert_eq!(err, ThunkError::Relocation(RelocError::MalformedStub));
}

#[test]
fn indirect_branch_is_an_error() {
    match create(Indirect(1)) {
        Err(ThunkError::Relocation(RelocError::Unsupported { offset: 0, .. })) => {}
        other => panic!("expected Unsupported at offset 0, got {other:?}"),
    }
}

#[test]
fn errors_are_cached_and_stable() {
    // The second attempt hits the per-template cache and must report the same reason.
    let a = create(RetFirst(1)).unwrap_err();
    let b = create(RetFirst(2)).unwrap_err();
    assert_eq!(a, b);
    assert!(a.to_string().contains("cannot relocate"), "message: {a}");
}

#[test]
#[should_panic(expected = "closure-ffi: cannot create thunk")]
fn panicking_constructor_says_why() {
    let _ = BareFn::<Bare>::with_thunk_in(NoStub(1), GlobalJitAlloc);
}

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use super::*;

    hostile!(RipPush, cffi_test_rip_push);
    hostile!(RipLea, cffi_test_rip_lea);

    #[test]
    fn rip_relative_push_is_an_error() {
        match create(RipPush(1)) {
            Err(ThunkError::Relocation(RelocError::Unsupported { offset: 0, .. })) => {}
            other => panic!("expected Unsupported at offset 0, got {other:?}"),
        }
    }

    #[test]
    fn rip_relative_lea_is_relocated_and_runs() {
        for value in [1u64, 41, 1 << 40] {
            let thunk = create(RipLea(value)).expect("lea rip-relative must relocate");
            // The copy lives in JIT memory, far from the data it addresses.
            let bare = thunk.bare();
            // SAFETY: the thunk's template returns `self.0 + data`, and `thunk` is alive.
            assert_eq!(unsafe { bare() }, value + 1000);
        }
    }
}
