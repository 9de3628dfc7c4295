/* ffitarget.h: target description for closure-ffi's libffi (x86_64, i386, aarch64 and 32-bit
 * Arm Linux).
 *
 * This header is part of closure-ffi's drop-in libffi (package closure-ffi-capi). It is
 * included by <ffi.h>; include <ffi.h>, not this file. Everything here describes the target
 * the program is compiled for: the argument word (ffi_arg), the calling conventions
 * (ffi_abi) and the closure layout parameters. The values match libffi's x86_64 port, its
 * i386 port (the non-Windows build) and its aarch64 port (the Linux build) so that programs
 * and bindings compiled against libffi work unchanged.
 *
 * When LIBFFI_ASM is defined (assembly sources), only the preprocessor macros are visible.
 */

#ifndef LIBFFI_TARGET_H
#define LIBFFI_TARGET_H

#ifndef LIBFFI_H
#error "ffitarget.h is an implementation detail of ffi.h: include <ffi.h> instead."
#endif

/* ---- The supported targets --------------------------------------------------------- */

/* x32 and aarch64 ILP32 (__ILP32__ on a 64-bit architecture) have 4-byte pointers and a
 * different closure layout: not supported. (i386 defines __ILP32__ too, and is supported.) */
#if !defined(__linux__) ||                           \
    !(defined(__i386__) || defined(__arm__) ||        \
      ((defined(__x86_64__) || defined(__aarch64__)) && !defined(__ILP32__)))
#error "closure-ffi's libffi is built for x86_64, i386, aarch64 and 32-bit Arm Linux only"
#endif

#if defined(__x86_64__)

/* ---- x86_64 ------------------------------------------------------------------------- */

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

#elif defined(__aarch64__)

/* ---- aarch64 ------------------------------------------------------------------------ */

/* The configuration macro libffi's aarch64 build defines; some programs test it. */
#ifndef AARCH64
#define AARCH64
#endif

/* ---- Argument words ----------------------------------------------------------------- */

/* One argument slot of the raw API, and the unit integral return values are widened to. */
#define FFI_SIZEOF_ARG 8
/* The Java raw API uses the same 8-byte slot on LP64. */
#define FFI_SIZEOF_JAVA_RAW 8

/* ---- Feature switches --------------------------------------------------------------- */

/* Closures (ffi_closure_alloc, ffi_prep_closure_loc, raw and Java raw closures). */
#define FFI_CLOSURES 1
/* Go closures: a static entry point that finds its closure in x18 (the static chain). */
#define FFI_GO_CLOSURES 1
/* Bytes of code at the start of an ffi_closure (part of the closure's ABI: do not change). */
#define FFI_TRAMPOLINE_SIZE 24
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

/* Calling conventions. The values are those of libffi's aarch64 build outside Windows and
 * Apple; a valid ABI lies strictly between FFI_FIRST_ABI and FFI_LAST_ABI. FFI_WIN64 is
 * declared as in libffi, but this build has no Windows Arm64 convention: preparing a cif
 * with it gives FFI_BAD_ABI. */
typedef enum ffi_abi {
  FFI_FIRST_ABI = 0,
  FFI_SYSV = 1,             /* AAPCS64: the native convention */
  FFI_WIN64 = 2,            /* Windows Arm64 (refused here) */
  FFI_LAST_ABI = 3,
  FFI_DEFAULT_ABI = FFI_SYSV
} ffi_abi;

#endif /* !LIBFFI_ASM */

#elif defined(__arm__)

/* ---- 32-bit Arm --------------------------------------------------------------------- */

/* The configuration macro libffi's Arm build defines; some programs test it. */
#ifndef ARM
#define ARM
#endif

/* ---- Argument words ----------------------------------------------------------------- */

/* One argument slot of the raw API, and the unit integral return values are widened to. */
#define FFI_SIZEOF_ARG 4
/* The Java raw API uses the same 4-byte slot. */
#define FFI_SIZEOF_JAVA_RAW 4

/* ---- Feature switches --------------------------------------------------------------- */

/* Closures (ffi_closure_alloc, ffi_prep_closure_loc, raw and Java raw closures). */
#define FFI_CLOSURES 1
/* Go closures: a static entry point that finds its closure in ip (r12, the static chain). */
#define FFI_GO_CLOSURES 1
/* Bytes of code at the start of an ffi_closure (part of the closure's ABI: do not change). */
#define FFI_TRAMPOLINE_SIZE 12
/* 0: the raw API converts to a pointer array and goes through ffi_call. */
#define FFI_NATIVE_RAW_API 0
/* _Complex float and double are supported (FFI_TYPE_COMPLEX). */
#define FFI_TARGET_HAS_COMPLEX_TYPE
/* No __int128 on 32-bit Arm: FFI_TARGET_HAS_INT128 is not defined. */
/* long double is double: ffi.h then defines FFI_TYPE_LONGDOUBLE as FFI_TYPE_DOUBLE. */
#define FFI_TARGET_LONGDOUBLE_IS_DOUBLE
/* Variadic calls are prepared by the target (libffi's macro; informational here). */
#define FFI_TARGET_SPECIFIC_VARIADIC
/* libffi's Arm cif carries its VFP allocation (this library leaves the fields zero). */
#define FFI_EXTRA_CIF_FIELDS \
  int vfp_used;              \
  unsigned short vfp_reg_free, vfp_nargs; \
  signed char vfp_args[16]

#ifndef LIBFFI_ASM

/* Integral return values narrower than 32 bits are widened to these. */
typedef unsigned long ffi_arg;
typedef signed long ffi_sarg;

/* Calling conventions. The values are those of libffi's Arm build outside Windows. */
typedef enum ffi_abi {
  FFI_FIRST_ABI = 0,
  FFI_SYSV = 1,             /* the AAPCS base standard (floating point in core registers) */
  FFI_VFP = 2,              /* the AAPCS VFP variant (floating point in VFP registers) */
  FFI_LAST_ABI = 3,
#ifdef __ARM_PCS_VFP
  FFI_DEFAULT_ABI = FFI_VFP
#else
  FFI_DEFAULT_ABI = FFI_SYSV
#endif
} ffi_abi;

#endif /* !LIBFFI_ASM */

#else /* __i386__ */

/* ---- i386 -------------------------------------------------------------------------- */

/* The configuration macros libffi's i386 build defines; some programs test them. */
#ifndef X86
#define X86
#endif
#ifndef X86_ANY
#define X86_ANY
#endif

/* ---- Argument words ----------------------------------------------------------------- */

/* One argument slot of the raw API (a stack slot), and the unit integral return values are
 * widened to. */
#define FFI_SIZEOF_ARG 4
/* The Java raw API uses the same 4-byte slot. */
#define FFI_SIZEOF_JAVA_RAW 4

/* ---- Feature switches --------------------------------------------------------------- */

/* Closures (ffi_closure_alloc, ffi_prep_closure_loc, raw closures). */
#define FFI_CLOSURES 1
/* Go closures: static entry points that find their closure in the static-chain register of
 * the convention: ecx (SYSV, STDCALL, PASCAL, MS_CDECL) or eax (THISCALL, FASTCALL). */
#define FFI_GO_CLOSURES 1
/* Bytes of code at the start of an ffi_closure (part of the closure's ABI: do not change). */
#define FFI_TRAMPOLINE_SIZE 16
/* 1: a raw argument block is the i386 argument stack image (ffi_raw_size bytes of 4-byte
 * slots), and ffi_raw_closure has no translate_args/this_closure fields. This build has no
 * ffi_java_raw_call and no Java raw closures, as libffi's i386 build. */
#define FFI_NATIVE_RAW_API 1
/* _Complex float, double and long double are supported (FFI_TYPE_COMPLEX). */
#define FFI_TARGET_HAS_COMPLEX_TYPE
/* No __int128 on i386: FFI_TARGET_HAS_INT128 is not defined. */

#ifndef LIBFFI_ASM

/* Integral return values narrower than 32 bits are widened to these. */
typedef unsigned long ffi_arg;
typedef signed long ffi_sarg;

/* Calling conventions. The values are those of libffi's i386 non-Windows build: every ABI
 * lies strictly between FFI_FIRST_ABI and FFI_LAST_ABI, and 2 is none (it is STDCALL in
 * libffi's Windows build; here it gives FFI_BAD_ABI). */
typedef enum ffi_abi {
  FFI_FIRST_ABI = 0,
  FFI_SYSV = 1,             /* cdecl: the native convention */
  FFI_THISCALL = 3,         /* the first integer argument in ecx, the callee pops */
  FFI_FASTCALL = 4,         /* the first two integer arguments in ecx, edx, the callee pops */
  FFI_STDCALL = 5,          /* the callee pops its arguments */
  FFI_PASCAL = 6,           /* pushed left to right, the callee pops */
  FFI_REGISTER = 7,         /* Borland register: eax, edx, ecx, then left to right */
  FFI_MS_CDECL = 8,         /* cdecl as Microsoft defines it (the caller pops a struct
                               return pointer) */
  FFI_LAST_ABI = 9,
  FFI_DEFAULT_ABI = FFI_SYSV
} ffi_abi;

#endif /* !LIBFFI_ASM */

#endif /* __i386__ */

#endif /* LIBFFI_TARGET_H */
