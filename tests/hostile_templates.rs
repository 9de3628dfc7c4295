//! Hand-written thunk templates: prologues the relocator must refuse with an error value
//! (never a crash), and PC-relative prologues it must relocate and run correctly (x86_64: a
//! RIP-relative `lea`; aarch64: every A64 PC-relative class, branches out taken and not;
//! 32-bit Arm: integer and VFP literal loads, ADR, calls to both instruction sets, a loop, branches out
//! taken and not, in the build's instruction set: A32 on armv7, T32 on thumbv7neon).
//!
//! Each template is plain assembly ending in the real stub shape (x86: `mov r, placeholder;
//! jmp over magic; magic`; aarch64: `ldr x0, literal; b over; literal; magic`), wired to a
//! thunk value through the `FnThunk` traits.

#![cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm"
))]

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

/// The assembly name of the C symbol `$name`: i686 Windows prefixes C names with `_`.
#[cfg(all(target_arch = "x86", windows))]
macro_rules! c_name {
    ($name:literal) => {
        concat!("_", $name)
    };
}
/// The assembly name of the C symbol `$name` (used by the x86 templates).
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    not(all(target_arch = "x86", windows))
))]
macro_rules! c_name {
    ($name:literal) => {
        $name
    };
}

#[cfg(target_arch = "aarch64")]
macro_rules! stub {
    () => {
        "ldr x0, 3f\n b 4f\n 3: .quad 0xC1F57AB00C1FA640\n .inst 0x0000c1f5, 0x00007ab0, 0x00000c1f, 0x0000a640\n 4:\n"
    };
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    // No stub at all within the scan window: a ret, then 8 KiB of int3.
    concat!(".globl ", c_name!("cffi_test_no_stub")),
    concat!(c_name!("cffi_test_no_stub"), ":"),
    "ret",
    ".fill 8192, 1, 0xcc",
    // A `ret` before the stub: control flow leaves the prologue.
    ".p2align 4",
    concat!(".globl ", c_name!("cffi_test_ret_first")),
    concat!(c_name!("cffi_test_ret_first"), ":"),
    "ret",
    stub!(),
    "ret",
    // The magic without the stub's mov/jmp in front of it.
    ".p2align 4",
    concat!(".globl ", c_name!("cffi_test_malformed")),
    concat!(c_name!("cffi_test_malformed"), ":"),
    "nop",
    "nop",
    ".byte 0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0x90",
    "ret",
    // An indirect jump before the stub.
    ".p2align 4",
    concat!(".globl ", c_name!("cffi_test_indirect")),
    concat!(c_name!("cffi_test_indirect"), ":"),
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

// The same four shapes in A64.
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    // No stub within the scan window: a ret, then 8 KiB of `udf #0`.
    ".globl cffi_test_no_stub",
    "cffi_test_no_stub:",
    "ret",
    ".fill 2048, 4, 0",
    ".p2align 4",
    ".globl cffi_test_ret_first",
    "cffi_test_ret_first:",
    "ret",
    stub!(),
    "ret",
    ".p2align 4",
    ".globl cffi_test_malformed",
    "cffi_test_malformed:",
    "nop",
    "nop",
    ".inst 0x0000c1f5, 0x00007ab0, 0x00000c1f, 0x0000a640",
    "ret",
    ".p2align 4",
    ".globl cffi_test_indirect",
    "cffi_test_indirect:",
    "br x1",
    stub!(),
    "ret",
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

// Windows x86_64: a prologue with a frame larger than a page calls the stack probe, as
// compilers emit it there (`mov eax, size; call ___chkstk_ms; sub rsp, rax`; mingw's
// probe touches every page from rsp down to rsp - rax and changes no register). The copy
// in JIT memory is far from libgcc's `___chkstk_ms`, so the relocator must turn the
// `call rel32` into a call through its literal pool; the thunk then runs its 12 KiB frame.
#[cfg(all(target_arch = "x86_64", windows))]
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl cffi_test_chkstk",
    "cffi_test_chkstk:",
    "push rbp",
    "mov rbp, rsp",
    "mov eax, 0x3000",
    "call ___chkstk_ms",
    "sub rsp, rax",
    stub!(),
    // Returns *closure + 7, through the bottom and the top of the frame.
    "mov rax, qword ptr [rax]",
    "mov qword ptr [rsp], rax",
    "mov qword ptr [rsp + 0x2ff8], 7",
    "mov rax, qword ptr [rsp]",
    "add rax, qword ptr [rsp + 0x2ff8]",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
);

#[cfg(all(target_arch = "x86_64", windows))]
mod windows_x86_64 {
    use super::*;

    hostile!(Chkstk, cffi_test_chkstk);

    #[test]
    fn stack_probe_call_is_relocated_and_runs() {
        for value in [0u64, 35, 1 << 50] {
            let thunk = create(Chkstk(value)).expect("call ___chkstk_ms must relocate");
            let bare = thunk.bare();
            // SAFETY: the thunk's template returns `self.0 + 7`, and `thunk` is alive.
            assert_eq!(unsafe { bare() }, value + 7);
        }
    }
}

/// A closure over a 16 KiB argument: in debug builds its thunk template copies the
/// argument into its own frame, so its prologue probes the stack. On x86_64-pc-windows-gnu
/// (rustc 1.95, dev profile) the template starts `mov eax, 0x4068; call ___chkstk_ms;
/// sub rsp, rax` before the stub, so the relocated `call` runs from JIT memory; elsewhere
/// the probe is inline. Either way the thunk must be made and run.
#[test]
fn large_frame_template_runs() {
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Big {
        v: [u64; 2048],
    }
    let mut big = Big { v: [0; 2048] };
    for (i, v) in big.v.iter_mut().enumerate() {
        *v = i as u64 * 3;
    }
    let salt = 11u64;
    let made = BareFn::<unsafe extern "C" fn(Big) -> u64>::try_new(move |b: Big| {
        b.v.iter().sum::<u64>() + b.v[2047] + salt
    });
    // 32-bit Arm, dev profile: the template's prologue copies the by-value argument word by
    // word before the stub (rustc 1.95: `add lr, fp, #..; ldr r0, [lr, #..]; add lr, sp,
    // #..; str r0, [lr, #..]` per word, about 64 KiB), so the stub lies beyond the bounded
    // scan (`arch::MAX_STUB_SCAN`): creating the thunk fails with an error value. Release
    // builds copy it with `memcpy` after the stub and run below.
    #[cfg(all(target_arch = "arm", debug_assertions))]
    {
        assert_eq!(
            made.err(),
            Some(ThunkError::Relocation(RelocError::StubNotFound))
        );
        let _ = big;
        return;
    }
    #[allow(unreachable_code)]
    let f = made.expect("a template with a large frame must be relocated");
    let want: u64 = (0..2048u64).map(|i| i * 3).sum::<u64>() + 2047 * 3 + salt;
    // SAFETY: `f` is alive.
    assert_eq!(unsafe { f.bare()(big) }, want);
}

// aarch64: every PC-relative class in a prologue, relocated and run from JIT memory (far
// from the data and code it addresses). Each template returns `*closure + what the
// prologue computed`; the `taken` ones branch out of the prologue past the stub and return
// 4242 without reading the closure.
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    // ADRP + ADD :lo12: to data in another section: + 1000.
    ".p2align 4",
    ".globl cffi_a64_adrp",
    "cffi_a64_adrp:",
    "adrp x9, cffi_a64_data",
    "add x9, x9, :lo12:cffi_a64_data",
    stub!(),
    "ldr x0, [x0]",
    "ldr x10, [x9]",
    "add x0, x0, x10",
    "ret",
    // LDR literal X, W (zero-extends), SW (sign-extends), ADR, PRFM literal:
    // + 1000 + 0x8000_0014 - 7 + 300.
    ".p2align 4",
    ".globl cffi_a64_literals",
    "cffi_a64_literals:",
    "ldr x9, 5f",
    "ldr w10, 6f",
    "ldrsw x11, 7f",
    "adr x12, 8f",
    "prfm pldl1keep, 5f",
    stub!(),
    "ldr x0, [x0]",
    "add x0, x0, x9",
    "add x0, x0, x10",
    "add x0, x0, x11",
    "ldr x12, [x12]",
    "add x0, x0, x12",
    "ret",
    ".p2align 3",
    "5: .quad 1000",
    "6: .word 0x80000014",
    "7: .word -7",
    "8: .quad 300",
    // SIMD&FP literal loads S, D, Q; x16 must survive their rewrites: + 250 + 40 + 5 + 9 + 7.
    ".p2align 4",
    ".globl cffi_a64_simd",
    "cffi_a64_simd:",
    "mov x16, #7",
    "ldr d1, 5f",
    "ldr s2, 6f",
    "ldr q3, 7f",
    "mov x11, x16",
    stub!(),
    "ldr x0, [x0]",
    "fcvtzu x9, d1",
    "add x0, x0, x9",
    "fcvtzu x9, s2",
    "add x0, x0, x9",
    "mov x9, v3.d[0]",
    "add x0, x0, x9",
    "mov x9, v3.d[1]",
    "add x0, x0, x9",
    "add x0, x0, x11",
    "ret",
    ".p2align 4",
    "7: .quad 5, 9",
    "5: .double 250.0",
    "6: .single 40.0",
    // BL out of the prologue (a helper that returns 1000): + 1000.
    ".p2align 4",
    ".globl cffi_a64_call",
    "cffi_a64_call:",
    "stp x29, x30, [sp, #-16]!",
    "mov x29, sp",
    "bl cffi_a64_helper",
    "mov x9, x0",
    stub!(),
    "ldr x0, [x0]",
    "add x0, x0, x9",
    "ldp x29, x30, [sp], #16",
    "ret",
    "cffi_a64_helper:",
    "mov x0, #1000",
    "ret",
    // A loop inside the prologue around a rewritten (longer) instruction: + 3 * 100.
    ".p2align 4",
    ".globl cffi_a64_loop",
    "cffi_a64_loop:",
    "mov x9, #3",
    "mov x10, #0",
    "5: ldr x11, 6f",
    "add x10, x10, x11",
    "subs x9, x9, #1",
    "b.ne 5b",
    stub!(),
    "ldr x0, [x0]",
    "add x0, x0, x10",
    "ret",
    ".p2align 3",
    "6: .quad 100",
    // Conditional branches out of the prologue, none taken: + 0.
    ".p2align 4",
    ".globl cffi_a64_not_taken",
    "cffi_a64_not_taken:",
    "mov x9, #0",
    "cbnz x9, 9f",
    "tbnz x9, #3, 9f",
    "cmp x9, #1",
    "b.eq 9f",
    stub!(),
    "ldr x0, [x0]",
    "ret",
    "9: mov x0, #4242",
    "ret",
    // Taken: TBNZ, CBZ, B.NE and B out of the prologue, to the template's code past the stub.
    ".p2align 4",
    ".globl cffi_a64_tbnz_taken",
    "cffi_a64_tbnz_taken:",
    "mov x9, #8",
    "tbnz x9, #3, 9f",
    stub!(),
    "ldr x0, [x0]",
    "ret",
    "9: mov x0, #4242",
    "ret",
    ".p2align 4",
    ".globl cffi_a64_cbz_taken",
    "cffi_a64_cbz_taken:",
    "mov x9, #0",
    "cbz x9, 9f",
    stub!(),
    "ldr x0, [x0]",
    "ret",
    "9: mov x0, #4242",
    "ret",
    ".p2align 4",
    ".globl cffi_a64_bcond_taken",
    "cffi_a64_bcond_taken:",
    "cmp sp, #0",
    "b.ne 9f",
    stub!(),
    "ldr x0, [x0]",
    "ret",
    "9: mov x0, #4242",
    "ret",
    ".p2align 4",
    ".globl cffi_a64_b_taken",
    "cffi_a64_b_taken:",
    "b 9f",
    stub!(),
    "ldr x0, [x0]",
    "ret",
    "9: mov x0, #4242",
    "ret",
    ".data",
    ".p2align 3",
    "cffi_a64_data:",
    ".quad 1000",
    ".text",
);

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use super::*;

    hostile!(Adrp, cffi_a64_adrp);
    hostile!(Literals, cffi_a64_literals);
    hostile!(Simd, cffi_a64_simd);
    hostile!(Call, cffi_a64_call);
    hostile!(Loop, cffi_a64_loop);
    hostile!(NotTaken, cffi_a64_not_taken);
    hostile!(TbnzTaken, cffi_a64_tbnz_taken);
    hostile!(CbzTaken, cffi_a64_cbz_taken);
    hostile!(BcondTaken, cffi_a64_bcond_taken);
    hostile!(BTaken, cffi_a64_b_taken);

    /// Creates a thunk of `make(value)` for a few values and checks it returns `expect(value)`.
    fn runs<T: FnThunk<Bare> + 'static>(make: fn(u64) -> T, expect: fn(u64) -> u64) {
        for value in [1u64, 41, 1 << 40] {
            let thunk = create(make(value)).expect("the prologue must relocate");
            let bare = thunk.bare();
            // SAFETY: the template returns a u64 computed from `self.0`; `thunk` is alive.
            assert_eq!(unsafe { bare() }, expect(value), "value {value}");
        }
    }

    #[test]
    fn adrp_add_is_relocated_and_runs() {
        runs(Adrp, |v| v + 1000);
    }

    #[test]
    fn integer_literal_loads_adr_and_prfm_are_relocated_and_run() {
        runs(Literals, |v| (v + 1000 + 0x8000_0014 + 300).wrapping_sub(7));
    }

    #[test]
    fn simd_literal_loads_are_relocated_and_keep_x16() {
        runs(Simd, |v| v + 250 + 40 + 5 + 9 + 7);
    }

    #[test]
    fn bl_out_of_the_prologue_returns_into_the_copy() {
        runs(Call, |v| v + 1000);
    }

    #[test]
    fn loop_around_a_rewritten_instruction() {
        runs(Loop, |v| v + 300);
    }

    #[test]
    fn conditional_branches_out_not_taken() {
        runs(NotTaken, |v| v);
    }

    #[test]
    fn branches_out_taken_reach_the_template() {
        runs(TbnzTaken, |_| 4242);
        runs(CbzTaken, |_| 4242);
        runs(BcondTaken, |_| 4242);
        runs(BTaken, |_| 4242);
    }
}

// 32-bit Arm, in the build's instruction set (`cfg(closure_ffi_thumb)`, set by closure-ffi's
// build script for `thumb*` targets). `func!` opens a function of that set; `other_func!` one
// of the other set (for `BLX` to it). The stub loads into r0.
#[cfg(all(target_arch = "arm", not(closure_ffi_thumb)))]
macro_rules! stub {
    () => {
        "movw r0, #0xa640\n movt r0, #0xc1f5\n b 2f\n .inst 0xe7fc1ff5, 0xe7f7abf0, 0xe7f0c1ff, 0xe7fa64f0\n 2:\n"
    };
}
#[cfg(all(target_arch = "arm", closure_ffi_thumb))]
macro_rules! stub {
    () => {
        "movw r0, #0xa640\n movt r0, #0xc1f5\n b.w 2f\n .inst.n 0xf7fc, 0xa1f5, 0xf7f7, 0xaab0, 0xf7f0, 0xac1f, 0xf7fa, 0xa640\n 2:\n"
    };
}
#[cfg(all(target_arch = "arm", not(closure_ffi_thumb)))]
macro_rules! magic {
    () => {
        ".inst 0xe7fc1ff5, 0xe7f7abf0, 0xe7f0c1ff, 0xe7fa64f0\n"
    };
}
#[cfg(all(target_arch = "arm", closure_ffi_thumb))]
macro_rules! magic {
    () => {
        ".inst.n 0xf7fc, 0xa1f5, 0xf7f7, 0xaab0, 0xf7f0, 0xac1f, 0xf7fa, 0xa640\n"
    };
}
#[cfg(all(target_arch = "arm", not(closure_ffi_thumb)))]
macro_rules! func {
    ($name:literal) => {
        concat!(
            ".arm\n .p2align 2\n .globl ",
            $name,
            "\n .type ",
            $name,
            ", %function\n",
            $name,
            ":\n"
        )
    };
}
#[cfg(all(target_arch = "arm", closure_ffi_thumb))]
macro_rules! func {
    ($name:literal) => {
        concat!(
            ".thumb\n .p2align 2\n .globl ",
            $name,
            "\n .type ",
            $name,
            ", %function\n .thumb_func\n",
            $name,
            ":\n"
        )
    };
}
#[cfg(all(target_arch = "arm", not(closure_ffi_thumb)))]
macro_rules! other_func {
    ($name:literal) => {
        concat!(
            ".thumb\n .p2align 2\n .type ",
            $name,
            ", %function\n .thumb_func\n",
            $name,
            ":\n"
        )
    };
}
#[cfg(all(target_arch = "arm", closure_ffi_thumb))]
macro_rules! other_func {
    ($name:literal) => {
        concat!(
            ".arm\n .p2align 2\n .type ",
            $name,
            ", %function\n",
            $name,
            ":\n"
        )
    };
}

// The four shapes every architecture refuses.
#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".syntax unified",
    ".text",
    func!("cffi_test_no_stub"),
    "bx lr",
    ".fill 2048, 4, 0",
    func!("cffi_test_ret_first"),
    "bx lr",
    stub!(),
    "bx lr",
    func!("cffi_test_malformed"),
    "nop",
    "nop",
    magic!(),
    "bx lr",
    func!("cffi_test_indirect"),
    "bx r1",
    stub!(),
    "bx lr",
);

// PC-relative prologues, relocated and run from JIT memory. Each returns `*closure` (a u64,
// in r1:r0) plus what the prologue computed; the `taken` ones branch out of the prologue past
// the stub and return 4242 without reading the closure.
#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".syntax unified",
    ".text",
    // LDR, LDRD, LDRH, LDRSB, VLDR literal, ADR, PLD (after a 2-byte nop in T32, so that
    // Align(PC, 4) matters): + 1000 + 5 + 7 + 20 - 3 + 300 + 250.
    func!("cffi_arm_literals"),
    "push {{r4, r5, r6, lr}}",
    "nop",
    "ldr r1, 5f",
    "ldrd r2, r3, 8f",
    "ldrh r4, 6f",
    "ldrsb r5, 9f",
    "adr r6, 7f",
    "vldr d0, 10f",
    "pld [pc, #0]",
    stub!(),
    "add r1, r1, r2",
    "add r1, r1, r3",
    "add r1, r1, r4",
    "add r1, r1, r5",
    "ldr r6, [r6]",
    "add r1, r1, r6",
    "vcvt.u32.f64 s0, d0",
    "vmov r2, s0",
    "add r1, r1, r2",
    "ldrd r2, r3, [r0]",
    "adds r0, r2, r1",
    "adc r1, r3, #0",
    "pop {{r4, r5, r6, pc}}",
    ".p2align 3",
    "10: .double 250.0",
    "8: .word 5, 7",
    "5: .word 1000",
    "7: .word 300",
    "6: .short 20",
    "9: .byte -3",
    ".p2align 2",
    // BL to a function of the same set, BLX to one of the other set: + 1000 + 50.
    func!("cffi_arm_call"),
    "push {{r4, lr}}",
    "bl cffi_arm_helper",
    "mov r4, r0",
    "blx cffi_arm_other_helper",
    "add r4, r4, r0",
    stub!(),
    "ldrd r2, r3, [r0]",
    "adds r0, r2, r4",
    "adc r1, r3, #0",
    "pop {{r4, pc}}",
    func!("cffi_arm_helper"),
    "mov r0, #1000",
    "bx lr",
    other_func!("cffi_arm_other_helper"),
    "mov r0, #50",
    "bx lr",
    // A loop inside the prologue around a rewritten (longer) instruction: + 3 * 100.
    func!("cffi_arm_loop"),
    "mov r2, #3",
    "mov r3, #0",
    "5: ldr ip, 6f",
    "add r3, r3, ip",
    "subs r2, r2, #1",
    "bne 5b",
    stub!(),
    "ldrd r0, r1, [r0]",
    "adds r0, r0, r3",
    "adc r1, r1, #0",
    "bx lr",
    ".p2align 2",
    "6: .word 100",
    // A conditional branch out of the prologue, not taken: + 0.
    func!("cffi_arm_not_taken"),
    "mov r2, #0",
    "cmp r2, #1",
    "beq 9f",
    stub!(),
    "ldrd r0, r1, [r0]",
    "bx lr",
    "9: movw r0, #4242",
    "mov r1, #0",
    "bx lr",
    // Taken: B<c> and B out of the prologue, to the template's code past the stub.
    func!("cffi_arm_bcond_taken"),
    "cmp sp, #0",
    "bne 9f",
    stub!(),
    "ldrd r0, r1, [r0]",
    "bx lr",
    "9: movw r0, #4242",
    "mov r1, #0",
    "bx lr",
    func!("cffi_arm_b_taken"),
    "b 9f",
    stub!(),
    "ldrd r0, r1, [r0]",
    "bx lr",
    "9: movw r0, #4242",
    "mov r1, #0",
    "bx lr",
);

// T32 only: CBZ taken and CBNZ not taken out of the prologue, and an IT block (copied).
#[cfg(all(target_arch = "arm", closure_ffi_thumb))]
core::arch::global_asm!(
    ".syntax unified",
    ".text",
    func!("cffi_t32_cbz"),
    "movs r2, #0",
    "cmp r2, #0",
    "ite eq",
    "moveq r3, #9",
    "movne r3, #1",
    "cbnz r2, 9f",
    "cbz r2, 8f",
    stub!(),
    "ldrd r0, r1, [r0]",
    "bx lr",
    "8: mov r0, r3",
    "movs r1, #0",
    "bx lr",
    "9: movw r0, #4242",
    "movs r1, #0",
    "bx lr",
);

#[cfg(target_arch = "arm")]
mod arm {
    use super::*;

    hostile!(Literals, cffi_arm_literals);
    hostile!(Call, cffi_arm_call);
    hostile!(Loop, cffi_arm_loop);
    hostile!(NotTaken, cffi_arm_not_taken);
    hostile!(BcondTaken, cffi_arm_bcond_taken);
    hostile!(BTaken, cffi_arm_b_taken);

    /// Creates a thunk of `make(value)` for a few values and checks it returns `expect(value)`.
    fn runs<T: FnThunk<Bare> + 'static>(make: fn(u64) -> T, expect: fn(u64) -> u64) {
        for value in [1u64, 41, 1 << 40] {
            let thunk = create(make(value)).expect("the prologue must relocate");
            let bare = thunk.bare();
            // SAFETY: the template returns a u64 computed from `self.0`; `thunk` is alive.
            assert_eq!(unsafe { bare() }, expect(value), "value {value}");
        }
    }

    #[test]
    fn literal_loads_adr_and_pld_are_relocated_and_run() {
        runs(Literals, |v| v + 1000 + 5 + 7 + 20 - 3 + 300 + 250);
    }

    #[test]
    fn calls_out_of_the_prologue_return_into_the_copy() {
        runs(Call, |v| v + 1000 + 50);
    }

    #[test]
    fn loop_around_a_rewritten_instruction() {
        runs(Loop, |v| v + 300);
    }

    #[test]
    fn conditional_branch_out_not_taken() {
        runs(NotTaken, |v| v);
    }

    #[test]
    fn branches_out_taken_reach_the_template() {
        runs(BcondTaken, |_| 4242);
        runs(BTaken, |_| 4242);
    }

    #[cfg(closure_ffi_thumb)]
    hostile!(Cbz, cffi_t32_cbz);

    #[cfg(closure_ffi_thumb)]
    #[test]
    fn t32_cbz_taken_cbnz_not_taken_it_block_copied() {
        runs(Cbz, |_| 9);
    }
}
