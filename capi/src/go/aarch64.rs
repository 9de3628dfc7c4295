//! The aarch64 Go closure entry and `ffi_call_go` shim: the static chain is x18.
//!
//! Both routines save every argument register of AAPCS64 (x0-x7, x8 for an indirect
//! result, q0-q7 whole) around a call to an `extern "C"` Rust function, and leave through
//! `br x16` with lr, sp and the argument registers as their caller set them.
//!
//! Frame (224 bytes, 16-aligned), from sp after the first instruction:
//!
//! ```text
//!   +0   x29, x30        +16  x0, x1    +32 x2, x3    +48 x4, x5    +64 x6, x7
//!   +80  x8 (+88 unused) +96  q0, q1    +128 q2, q3   +160 q4, q5   +192 q6, q7
//! ```

/// Saves the argument registers, runs `$arg`, calls `$fn` (`extern "C"`, argument in x0),
/// runs `$then` (the result is in x0; it sets x16 and anything else to leave with),
/// restores the argument registers and jumps to x16.
macro_rules! around_call {
    ($name:literal, $arg:literal, $then:literal, $fn:path) => {
        core::arch::global_asm!(
            concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
            ".p2align 4",
            concat!(".globl ", $name),
            concat!(".hidden ", $name),
            concat!(".type ", $name, ", %function"),
            concat!($name, ":"),
            ".cfi_startproc",
            // Frame record and the save area (layout in the module docs).
            "stp x29, x30, [sp, #-224]!",
            ".cfi_def_cfa_offset 224",
            ".cfi_offset x29, -224",
            ".cfi_offset x30, -216",
            "mov x29, sp",
            ".cfi_def_cfa_register x29",
            "stp x0, x1, [sp, #16]",
            "stp x2, x3, [sp, #32]",
            "stp x4, x5, [sp, #48]",
            "stp x6, x7, [sp, #64]",
            "str x8, [sp, #80]",
            "stp q0, q1, [sp, #96]",
            "stp q2, q3, [sp, #128]",
            "stp q4, q5, [sp, #160]",
            "stp q6, q7, [sp, #192]",
            $arg,
            "bl {target}",
            $then,
            // x16 (and x18 for the shim) now hold what the caller of this routine needs;
            // the restores below touch neither.
            "ldp x0, x1, [sp, #16]",
            "ldp x2, x3, [sp, #32]",
            "ldp x4, x5, [sp, #48]",
            "ldp x6, x7, [sp, #64]",
            "ldr x8, [sp, #80]",
            "ldp q0, q1, [sp, #96]",
            "ldp q2, q3, [sp, #128]",
            "ldp q4, q5, [sp, #160]",
            "ldp q6, q7, [sp, #192]",
            "ldp x29, x30, [sp], #224",
            ".cfi_def_cfa sp, 0",
            ".cfi_restore x29",
            ".cfi_restore x30",
            "br x16",
            ".cfi_endproc",
            concat!(".size ", $name, ", . - ", $name),
            ".popsection",
            target = sym $fn,
        );
    };
}

// The Go closure entry: x18 = the ffi_go_closure; leaves to the shared closure's code.
around_call!(
    "closure_ffi_capi_go_entry",
    "mov x0, x18",
    "mov x16, x0",
    super::go_enter
);

// The ffi_call_go shim: x0 = &[target, chain] from go_calling; leaves to the target with
// x18 = the chain.
around_call!(
    "closure_ffi_capi_go_call",
    "",
    "ldp x16, x18, [x0]",
    super::go_calling
);
