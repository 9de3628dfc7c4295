/* ffitarget.h: target description for closure-ffi's libffi (x86_64 Linux, System V ABI).
 *
 * This header is part of closure-ffi's drop-in libffi (package closure-ffi-capi). It is
 * included by <ffi.h>; include <ffi.h>, not this file. Everything here describes the one
 * target the library is built for: the argument word (ffi_arg), the calling conventions
 * (ffi_abi) and the closure layout parameters. The values match libffi's x86_64 port so that
 * programs and bindings compiled against libffi work unchanged.
 *
 * When LIBFFI_ASM is defined (assembly sources), only the preprocessor macros are visible.
 */

#ifndef LIBFFI_TARGET_H
#define LIBFFI_TARGET_H

#ifndef LIBFFI_H
#error "ffitarget.h is an implementation detail of ffi.h: include <ffi.h> instead."
#endif

/* ---- The one supported target ------------------------------------------------------- */

/* x32 (__ILP32__) has 4-byte pointers and a different closure layout: not supported. */
#if !defined(__x86_64__) || !defined(__linux__) || defined(__ILP32__)
#error "closure-ffi's libffi is built for x86_64 Linux only"
#endif

/* The configuration macros libffi's x86_64 build defines; some programs test them. */
#ifndef X86_64
#define X86_64
#endif
#ifndef X86_ANY
#define X86_ANY
#endif

/* ---- Argument words ----------------------------------------------------------------- */

/* One argument slot of the raw API, and the unit integral return values are widened to. */
#define FFI_SIZEOF_ARG 8
/* The Java raw API uses the same 8-byte slot on LP64. */
#define FFI_SIZEOF_JAVA_RAW 8

/* ---- Feature switches --------------------------------------------------------------- */

/* Closures (ffi_closure_alloc, ffi_prep_closure_loc, raw and Java raw closures). */
#define FFI_CLOSURES 1
/* Go closures: a static entry point that finds its closure in r10 (the static chain). */
#define FFI_GO_CLOSURES 1
/* Bytes of code at the start of an ffi_closure (part of the closure's ABI: do not change). */
#define FFI_TRAMPOLINE_SIZE 32
/* 0: the raw API converts to a pointer array and goes through ffi_call. */
#define FFI_NATIVE_RAW_API 0
/* _Complex float, double and long double are supported (FFI_TYPE_COMPLEX). */
#define FFI_TARGET_HAS_COMPLEX_TYPE
/* unsigned/signed __int128 are supported (FFI_TYPE_UINT128, FFI_TYPE_SINT128). */
#define FFI_TARGET_HAS_INT128

#ifndef LIBFFI_ASM

/* Integral return values narrower than 64 bits are widened to these. */
typedef unsigned long ffi_arg;
typedef signed long ffi_sarg;

/* Calling conventions. The values are those of libffi's x86_64 non-Windows build; a valid
 * ABI lies strictly between FFI_FIRST_ABI and FFI_LAST_ABI. */
typedef enum ffi_abi {
  FFI_FIRST_ABI = 1,
  FFI_UNIX64 = 2,           /* System V AMD64: the native convention */
  FFI_WIN64 = 3,            /* Microsoft x64 */
  FFI_EFI64 = FFI_WIN64,    /* UEFI uses the Microsoft x64 convention */
  FFI_GNUW64 = 4,           /* Microsoft x64 with GCC's 16-byte long double */
  FFI_LAST_ABI = 5,
  FFI_DEFAULT_ABI = FFI_UNIX64
} ffi_abi;

#endif /* !LIBFFI_ASM */

#endif /* LIBFFI_TARGET_H */
