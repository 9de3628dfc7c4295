//! The 32-bit Arm Go closure entry and `ffi_call_go` shim: the static chain is ip (r12).
//!
//! Both routines are A32 code (`.arm`, also on T32 builds: a caller reaches them through a
//! pointer with bit 0 clear, and `bl` to the Rust half interworks through the linker). They
//! save the argument registers of both standards (r0-r3, and d0-d7 for the VFP variant)
//! around a call to an `extern "C"` Rust function and leave with lr, sp and the argument
//! registers as their caller set them.
//!
//! Frame (96 bytes, 8-aligned), from sp after the pushes:
//!
//! ```text
//!   +0  d0-d7 (64)   +64 r0, r1, r2, r3, r4 (r4 only for alignment), lr   +88 slot (8)
//! ```

// The Go closure entry: ip = the ffi_go_closure; leaves to the shared closure's code.
core::arch::global_asm!(
    ".pushsection .text.closure_ffi_capi_go_entry,\"ax\",%progbits",
    ".p2align 2",
    ".arm",
    ".globl closure_ffi_capi_go_entry",
    ".hidden closure_ffi_capi_go_entry",
    ".type closure_ffi_capi_go_entry, %function",
    "closure_ffi_capi_go_entry:",
    ".fnstart",
    ".cfi_startproc",
    // Save r0-r3 (arguments), r4 (padding to 8 bytes) and lr, then d0-d7.
    "push {{r0, r1, r2, r3, r4, lr}}",
    ".cfi_def_cfa_offset 24",
    ".cfi_offset lr, -4",
    "vpush {{d0-d7}}",
    ".cfi_def_cfa_offset 88",
    // go_enter(ip): r0 = the shared closure's code (a function pointer: bit 0 for T32).
    "mov r0, ip",
    "bl {enter}",
    "mov ip, r0",
    "vpop {{d0-d7}}",
    "pop {{r0, r1, r2, r3, r4, lr}}",
    ".cfi_def_cfa_offset 0",
    // bx interworks on bit 0.
    "bx ip",
    ".cfi_endproc",
    ".cantunwind",
    ".fnend",
    ".size closure_ffi_capi_go_entry, . - closure_ffi_capi_go_entry",
    ".popsection",
    enter = sym super::go_enter,
);

// The ffi_call_go shim: leaves to the target with ip = the chain. The target goes into a
// stack slot above the saved registers and is loaded into pc last (`ldr pc` interworks).
core::arch::global_asm!(
    ".pushsection .text.closure_ffi_capi_go_call,\"ax\",%progbits",
    ".p2align 2",
    ".arm",
    ".globl closure_ffi_capi_go_call",
    ".hidden closure_ffi_capi_go_call",
    ".type closure_ffi_capi_go_call, %function",
    "closure_ffi_capi_go_call:",
    ".fnstart",
    ".cfi_startproc",
    // The slot for the target (8 bytes, keeping sp 8-aligned).
    "sub sp, sp, #8",
    ".cfi_def_cfa_offset 8",
    "push {{r0, r1, r2, r3, r4, lr}}",
    ".cfi_def_cfa_offset 32",
    ".cfi_offset lr, -12",
    "vpush {{d0-d7}}",
    ".cfi_def_cfa_offset 96",
    // go_calling(): r0 = &[target, chain].
    "bl {calling}",
    "ldr ip, [r0, #4]",
    "ldr r0, [r0]",
    "str r0, [sp, #88]",
    "vpop {{d0-d7}}",
    "pop {{r0, r1, r2, r3, r4, lr}}",
    ".cfi_def_cfa_offset 8",
    // pc = the target, sp back to the caller's.
    "ldr pc, [sp], #8",
    ".cfi_endproc",
    ".cantunwind",
    ".fnend",
    ".size closure_ffi_capi_go_call, . - closure_ffi_capi_go_call",
    ".popsection",
    calling = sym super::go_calling,
);
