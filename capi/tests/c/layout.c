/* layout.c: the header's constants and struct layouts, and the predefined ffi_type objects.
 *
 * Compile-time (_Static_assert): type codes, status and ABI values, feature macros, the
 * sizes and field offsets of ffi_type, ffi_cif, ffi_closure, ffi_raw_closure,
 * ffi_java_raw_closure, ffi_go_closure, ffi_raw and ffi_java_raw, and the ffi_type_uchar/...
 * aliases. Run time: size, alignment, type code and elements of every predefined ffi_type
 * object the library exports (libffi 3.4 set), and one trivial ffi_call.
 *
 * Both x86_64 and i386 (gcc -m32) values are checked, each on its own target.
 *
 * Works with libffi >= 3.4 (the 3.5+ additions are checked in version.c and int128.c). */

#include <ffi.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "check.h"

/* ---- Constants ---- */

_Static_assert(FFI_TYPE_VOID == 0, "FFI_TYPE_VOID");
_Static_assert(FFI_TYPE_INT == 1, "FFI_TYPE_INT");
_Static_assert(FFI_TYPE_FLOAT == 2, "FFI_TYPE_FLOAT");
_Static_assert(FFI_TYPE_DOUBLE == 3, "FFI_TYPE_DOUBLE");
#if defined(__arm__)
_Static_assert(FFI_TYPE_LONGDOUBLE == FFI_TYPE_DOUBLE, "long double is double on 32-bit Arm");
#else
_Static_assert(FFI_TYPE_LONGDOUBLE == 4, "FFI_TYPE_LONGDOUBLE is distinct");
#endif
_Static_assert(FFI_TYPE_UINT8 == 5, "FFI_TYPE_UINT8");
_Static_assert(FFI_TYPE_SINT8 == 6, "FFI_TYPE_SINT8");
_Static_assert(FFI_TYPE_UINT16 == 7, "FFI_TYPE_UINT16");
_Static_assert(FFI_TYPE_SINT16 == 8, "FFI_TYPE_SINT16");
_Static_assert(FFI_TYPE_UINT32 == 9, "FFI_TYPE_UINT32");
_Static_assert(FFI_TYPE_SINT32 == 10, "FFI_TYPE_SINT32");
_Static_assert(FFI_TYPE_UINT64 == 11, "FFI_TYPE_UINT64");
_Static_assert(FFI_TYPE_SINT64 == 12, "FFI_TYPE_SINT64");
_Static_assert(FFI_TYPE_STRUCT == 13, "FFI_TYPE_STRUCT");
_Static_assert(FFI_TYPE_POINTER == 14, "FFI_TYPE_POINTER");
_Static_assert(FFI_TYPE_COMPLEX == 15, "FFI_TYPE_COMPLEX");
_Static_assert(FFI_TYPE_LAST >= FFI_TYPE_COMPLEX, "FFI_TYPE_LAST");

_Static_assert(FFI_OK == 0, "FFI_OK");
_Static_assert(FFI_BAD_TYPEDEF == 1, "FFI_BAD_TYPEDEF");
_Static_assert(FFI_BAD_ABI == 2, "FFI_BAD_ABI");
_Static_assert(FFI_BAD_ARGTYPE == 3, "FFI_BAD_ARGTYPE");

#if defined(__x86_64__)
_Static_assert(FFI_FIRST_ABI == 1, "FFI_FIRST_ABI");
_Static_assert(FFI_UNIX64 == 2, "FFI_UNIX64");
_Static_assert(FFI_WIN64 == 3, "FFI_WIN64");
_Static_assert(FFI_EFI64 == FFI_WIN64, "FFI_EFI64 aliases FFI_WIN64");
_Static_assert(FFI_GNUW64 == 4, "FFI_GNUW64");
_Static_assert(FFI_LAST_ABI == 5, "FFI_LAST_ABI");
_Static_assert(FFI_DEFAULT_ABI == FFI_UNIX64, "FFI_DEFAULT_ABI");

_Static_assert(FFI_SIZEOF_ARG == 8, "FFI_SIZEOF_ARG");
_Static_assert(FFI_SIZEOF_JAVA_RAW == 8, "FFI_SIZEOF_JAVA_RAW");
_Static_assert(FFI_TRAMPOLINE_SIZE == 32, "FFI_TRAMPOLINE_SIZE");
_Static_assert(FFI_CLOSURES == 1, "FFI_CLOSURES");
_Static_assert(FFI_GO_CLOSURES == 1, "FFI_GO_CLOSURES");
_Static_assert(FFI_NATIVE_RAW_API == 0, "FFI_NATIVE_RAW_API");
#elif defined(__aarch64__)
_Static_assert(FFI_FIRST_ABI == 0, "FFI_FIRST_ABI");
_Static_assert(FFI_SYSV == 1, "FFI_SYSV");
_Static_assert(FFI_WIN64 == 2, "FFI_WIN64");
_Static_assert(FFI_LAST_ABI == 3, "FFI_LAST_ABI");
_Static_assert(FFI_DEFAULT_ABI == FFI_SYSV, "FFI_DEFAULT_ABI");

_Static_assert(FFI_SIZEOF_ARG == 8, "FFI_SIZEOF_ARG");
_Static_assert(FFI_SIZEOF_JAVA_RAW == 8, "FFI_SIZEOF_JAVA_RAW");
_Static_assert(FFI_TRAMPOLINE_SIZE == 24, "FFI_TRAMPOLINE_SIZE");
_Static_assert(FFI_CLOSURES == 1, "FFI_CLOSURES");
_Static_assert(FFI_GO_CLOSURES == 1, "FFI_GO_CLOSURES");
_Static_assert(FFI_NATIVE_RAW_API == 0, "FFI_NATIVE_RAW_API");
#ifndef FFI_TARGET_HAS_INT128
#error "FFI_TARGET_HAS_INT128 must be defined on aarch64"
#endif
#elif defined(__arm__)
_Static_assert(FFI_FIRST_ABI == 0, "FFI_FIRST_ABI");
_Static_assert(FFI_SYSV == 1, "FFI_SYSV");
_Static_assert(FFI_VFP == 2, "FFI_VFP");
_Static_assert(FFI_LAST_ABI == 3, "FFI_LAST_ABI");
#ifdef __ARM_PCS_VFP
_Static_assert(FFI_DEFAULT_ABI == FFI_VFP, "FFI_DEFAULT_ABI");
#else
_Static_assert(FFI_DEFAULT_ABI == FFI_SYSV, "FFI_DEFAULT_ABI");
#endif

_Static_assert(FFI_SIZEOF_ARG == 4, "FFI_SIZEOF_ARG");
_Static_assert(FFI_SIZEOF_JAVA_RAW == 4, "FFI_SIZEOF_JAVA_RAW");
_Static_assert(FFI_TRAMPOLINE_SIZE == 12, "FFI_TRAMPOLINE_SIZE");
_Static_assert(FFI_CLOSURES == 1, "FFI_CLOSURES");
_Static_assert(FFI_GO_CLOSURES == 1, "FFI_GO_CLOSURES");
_Static_assert(FFI_NATIVE_RAW_API == 0, "FFI_NATIVE_RAW_API");
#ifdef FFI_TARGET_HAS_INT128
#error "FFI_TARGET_HAS_INT128 must not be defined on 32-bit Arm"
#endif
#else /* i386 */
_Static_assert(FFI_FIRST_ABI == 0, "FFI_FIRST_ABI");
_Static_assert(FFI_SYSV == 1, "FFI_SYSV");
_Static_assert(FFI_THISCALL == 3, "FFI_THISCALL");
_Static_assert(FFI_FASTCALL == 4, "FFI_FASTCALL");
_Static_assert(FFI_STDCALL == 5, "FFI_STDCALL");
_Static_assert(FFI_PASCAL == 6, "FFI_PASCAL");
_Static_assert(FFI_REGISTER == 7, "FFI_REGISTER");
_Static_assert(FFI_MS_CDECL == 8, "FFI_MS_CDECL");
_Static_assert(FFI_LAST_ABI == 9, "FFI_LAST_ABI");
_Static_assert(FFI_DEFAULT_ABI == FFI_SYSV, "FFI_DEFAULT_ABI");

_Static_assert(FFI_SIZEOF_ARG == 4, "FFI_SIZEOF_ARG");
_Static_assert(FFI_SIZEOF_JAVA_RAW == 4, "FFI_SIZEOF_JAVA_RAW");
_Static_assert(FFI_TRAMPOLINE_SIZE == 16, "FFI_TRAMPOLINE_SIZE");
_Static_assert(FFI_CLOSURES == 1, "FFI_CLOSURES");
_Static_assert(FFI_GO_CLOSURES == 1, "FFI_GO_CLOSURES");
_Static_assert(FFI_NATIVE_RAW_API == 1, "FFI_NATIVE_RAW_API");
#ifdef FFI_TARGET_HAS_INT128
#error "FFI_TARGET_HAS_INT128 must not be defined on i386"
#endif
#endif
#ifndef FFI_TARGET_HAS_COMPLEX_TYPE
#error "FFI_TARGET_HAS_COMPLEX_TYPE must be defined on every supported target"
#endif
#ifndef LIBFFI_H
#error "ffi.h must define its include guard LIBFFI_H"
#endif
/* FFI_64_BIT_MAX must be usable in #if. */
#if FFI_64_BIT_MAX != 9223372036854775807
#error "FFI_64_BIT_MAX"
#endif
_Static_assert(FFI_LONG_LONG_MAX == LLONG_MAX, "FFI_LONG_LONG_MAX");

/* ---- Layouts ---- */

_Static_assert(sizeof(ffi_abi) == 4, "ffi_abi is an int-sized enum");
_Static_assert(sizeof(ffi_status) == 4, "ffi_status is an int-sized enum");
/* x86_64 and aarch64 (LP64): the closures differ only in FFI_TRAMPOLINE_SIZE (32, 24). */
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(ffi_arg) == 8 && (ffi_arg)-1 > 0, "ffi_arg is unsigned 64-bit");
_Static_assert(sizeof(ffi_sarg) == 8 && (ffi_sarg)-1 < 0, "ffi_sarg is signed 64-bit");

_Static_assert(sizeof(ffi_type) == 24 && _Alignof(ffi_type) == 8, "ffi_type size");
_Static_assert(offsetof(ffi_type, size) == 0, "ffi_type.size");
_Static_assert(offsetof(ffi_type, alignment) == 8, "ffi_type.alignment");
_Static_assert(offsetof(ffi_type, type) == 10, "ffi_type.type");
_Static_assert(offsetof(ffi_type, elements) == 16, "ffi_type.elements");
_Static_assert(sizeof(((ffi_type *)0)->alignment) == 2, "alignment is unsigned short");
_Static_assert(sizeof(((ffi_type *)0)->type) == 2, "type is unsigned short");

_Static_assert(sizeof(ffi_cif) == 32 && _Alignof(ffi_cif) == 8, "ffi_cif size");
_Static_assert(offsetof(ffi_cif, abi) == 0, "ffi_cif.abi");
_Static_assert(offsetof(ffi_cif, nargs) == 4, "ffi_cif.nargs");
_Static_assert(offsetof(ffi_cif, arg_types) == 8, "ffi_cif.arg_types");
_Static_assert(offsetof(ffi_cif, rtype) == 16, "ffi_cif.rtype");
_Static_assert(offsetof(ffi_cif, bytes) == 24, "ffi_cif.bytes");
_Static_assert(offsetof(ffi_cif, flags) == 28, "ffi_cif.flags");

_Static_assert(sizeof(ffi_closure) == FFI_TRAMPOLINE_SIZE + 24 && _Alignof(ffi_closure) == 8, "ffi_closure size");
_Static_assert(offsetof(ffi_closure, tramp) == 0, "ffi_closure.tramp");
_Static_assert(offsetof(ffi_closure, ftramp) == 0, "ffi_closure.ftramp");
_Static_assert(sizeof(((ffi_closure *)0)->tramp) == FFI_TRAMPOLINE_SIZE, "tramp size");
_Static_assert(offsetof(ffi_closure, cif) == FFI_TRAMPOLINE_SIZE, "ffi_closure.cif");
_Static_assert(offsetof(ffi_closure, fun) == FFI_TRAMPOLINE_SIZE + 8, "ffi_closure.fun");
_Static_assert(offsetof(ffi_closure, user_data) == FFI_TRAMPOLINE_SIZE + 16, "ffi_closure.user_data");

_Static_assert(sizeof(ffi_raw_closure) == FFI_TRAMPOLINE_SIZE + 40, "ffi_raw_closure size");
_Static_assert(offsetof(ffi_raw_closure, tramp) == 0, "ffi_raw_closure.tramp");
_Static_assert(offsetof(ffi_raw_closure, cif) == FFI_TRAMPOLINE_SIZE, "ffi_raw_closure.cif");
_Static_assert(offsetof(ffi_raw_closure, translate_args) == FFI_TRAMPOLINE_SIZE + 8, "translate_args");
_Static_assert(offsetof(ffi_raw_closure, this_closure) == FFI_TRAMPOLINE_SIZE + 16, "this_closure");
_Static_assert(offsetof(ffi_raw_closure, fun) == FFI_TRAMPOLINE_SIZE + 24, "ffi_raw_closure.fun");
_Static_assert(offsetof(ffi_raw_closure, user_data) == FFI_TRAMPOLINE_SIZE + 32, "ffi_raw_closure.user_data");

_Static_assert(sizeof(ffi_java_raw_closure) == FFI_TRAMPOLINE_SIZE + 40, "ffi_java_raw_closure size");
_Static_assert(offsetof(ffi_java_raw_closure, cif) == FFI_TRAMPOLINE_SIZE, "java cif");
_Static_assert(offsetof(ffi_java_raw_closure, translate_args) == FFI_TRAMPOLINE_SIZE + 8, "java translate_args");
_Static_assert(offsetof(ffi_java_raw_closure, this_closure) == FFI_TRAMPOLINE_SIZE + 16, "java this_closure");
_Static_assert(offsetof(ffi_java_raw_closure, fun) == FFI_TRAMPOLINE_SIZE + 24, "java fun");
_Static_assert(offsetof(ffi_java_raw_closure, user_data) == FFI_TRAMPOLINE_SIZE + 32, "java user_data");

_Static_assert(sizeof(ffi_go_closure) == 24, "ffi_go_closure size");
_Static_assert(offsetof(ffi_go_closure, tramp) == 0, "ffi_go_closure.tramp");
_Static_assert(offsetof(ffi_go_closure, cif) == 8, "ffi_go_closure.cif");
_Static_assert(offsetof(ffi_go_closure, fun) == 16, "ffi_go_closure.fun");

_Static_assert(sizeof(ffi_raw) == 8, "ffi_raw is one 8-byte slot");
_Static_assert(sizeof(ffi_java_raw) == 8, "ffi_java_raw is one 8-byte slot");
_Static_assert(sizeof(((ffi_raw *)0)->data) == FFI_SIZEOF_ARG, "ffi_raw.data");

#elif defined(__arm__)
_Static_assert(sizeof(ffi_arg) == 4 && (ffi_arg)-1 > 0, "ffi_arg is unsigned 32-bit");
_Static_assert(sizeof(ffi_sarg) == 4 && (ffi_sarg)-1 < 0, "ffi_sarg is signed 32-bit");
_Static_assert(sizeof(ffi_type) == 12 && _Alignof(ffi_type) == 4, "ffi_type size");

/* libffi's FFI_EXTRA_CIF_FIELDS for Arm follow flags. */
_Static_assert(sizeof(ffi_cif) == 48 && _Alignof(ffi_cif) == 4, "ffi_cif size");
_Static_assert(offsetof(ffi_cif, rtype) == 12, "ffi_cif.rtype");
_Static_assert(offsetof(ffi_cif, flags) == 20, "ffi_cif.flags");
_Static_assert(offsetof(ffi_cif, vfp_used) == 24, "ffi_cif.vfp_used");
_Static_assert(offsetof(ffi_cif, vfp_args) == 32, "ffi_cif.vfp_args");

/* 12 + 3 pointers = 24, aligned 8. */
_Static_assert(sizeof(ffi_closure) == 24 && _Alignof(ffi_closure) == 8, "ffi_closure size");
_Static_assert(sizeof(((ffi_closure *)0)->tramp) == FFI_TRAMPOLINE_SIZE, "tramp size");
_Static_assert(offsetof(ffi_closure, cif) == 12, "ffi_closure.cif");
_Static_assert(offsetof(ffi_closure, fun) == 16, "ffi_closure.fun");
_Static_assert(offsetof(ffi_closure, user_data) == 20, "ffi_closure.user_data");

_Static_assert(sizeof(ffi_raw_closure) == 32, "ffi_raw_closure size");
_Static_assert(offsetof(ffi_raw_closure, cif) == 12, "ffi_raw_closure.cif");
_Static_assert(offsetof(ffi_raw_closure, translate_args) == 16, "translate_args");
_Static_assert(offsetof(ffi_raw_closure, this_closure) == 20, "this_closure");
_Static_assert(offsetof(ffi_raw_closure, fun) == 24, "ffi_raw_closure.fun");
_Static_assert(offsetof(ffi_raw_closure, user_data) == 28, "ffi_raw_closure.user_data");
_Static_assert(sizeof(ffi_java_raw_closure) == 32, "ffi_java_raw_closure size");

_Static_assert(sizeof(ffi_go_closure) == 12, "ffi_go_closure size");
_Static_assert(sizeof(ffi_raw) == 4, "ffi_raw is one 4-byte slot");
_Static_assert(sizeof(ffi_java_raw) == 4, "ffi_java_raw is one 4-byte slot");

#else /* i386 */
_Static_assert(sizeof(ffi_arg) == 4 && (ffi_arg)-1 > 0, "ffi_arg is unsigned 32-bit");
_Static_assert(sizeof(ffi_sarg) == 4 && (ffi_sarg)-1 < 0, "ffi_sarg is signed 32-bit");

_Static_assert(sizeof(ffi_type) == 12 && _Alignof(ffi_type) == 4, "ffi_type size");
_Static_assert(offsetof(ffi_type, size) == 0, "ffi_type.size");
_Static_assert(offsetof(ffi_type, alignment) == 4, "ffi_type.alignment");
_Static_assert(offsetof(ffi_type, type) == 6, "ffi_type.type");
_Static_assert(offsetof(ffi_type, elements) == 8, "ffi_type.elements");
_Static_assert(sizeof(((ffi_type *)0)->alignment) == 2, "alignment is unsigned short");
_Static_assert(sizeof(((ffi_type *)0)->type) == 2, "type is unsigned short");

_Static_assert(sizeof(ffi_cif) == 24 && _Alignof(ffi_cif) == 4, "ffi_cif size");
_Static_assert(offsetof(ffi_cif, abi) == 0, "ffi_cif.abi");
_Static_assert(offsetof(ffi_cif, nargs) == 4, "ffi_cif.nargs");
_Static_assert(offsetof(ffi_cif, arg_types) == 8, "ffi_cif.arg_types");
_Static_assert(offsetof(ffi_cif, rtype) == 12, "ffi_cif.rtype");
_Static_assert(offsetof(ffi_cif, bytes) == 16, "ffi_cif.bytes");
_Static_assert(offsetof(ffi_cif, flags) == 20, "ffi_cif.flags");

/* 16 + 3 pointers: aligned(8) on the typedef raises the alignment without padding. */
_Static_assert(sizeof(ffi_closure) == 28 && _Alignof(ffi_closure) == 8, "ffi_closure size");
_Static_assert(offsetof(ffi_closure, tramp) == 0, "ffi_closure.tramp");
_Static_assert(offsetof(ffi_closure, ftramp) == 0, "ffi_closure.ftramp");
_Static_assert(sizeof(((ffi_closure *)0)->tramp) == FFI_TRAMPOLINE_SIZE, "tramp size");
_Static_assert(offsetof(ffi_closure, cif) == 16, "ffi_closure.cif");
_Static_assert(offsetof(ffi_closure, fun) == 20, "ffi_closure.fun");
_Static_assert(offsetof(ffi_closure, user_data) == 24, "ffi_closure.user_data");

/* FFI_NATIVE_RAW_API: no translate_args, no this_closure. */
_Static_assert(sizeof(ffi_raw_closure) == 28, "ffi_raw_closure size");
_Static_assert(offsetof(ffi_raw_closure, tramp) == 0, "ffi_raw_closure.tramp");
_Static_assert(offsetof(ffi_raw_closure, cif) == 16, "ffi_raw_closure.cif");
_Static_assert(offsetof(ffi_raw_closure, fun) == 20, "ffi_raw_closure.fun");
_Static_assert(offsetof(ffi_raw_closure, user_data) == 24, "ffi_raw_closure.user_data");

_Static_assert(sizeof(ffi_java_raw_closure) == 28, "ffi_java_raw_closure size");
_Static_assert(offsetof(ffi_java_raw_closure, cif) == 16, "java cif");
_Static_assert(offsetof(ffi_java_raw_closure, fun) == 20, "java fun");
_Static_assert(offsetof(ffi_java_raw_closure, user_data) == 24, "java user_data");

_Static_assert(sizeof(ffi_go_closure) == 12, "ffi_go_closure size");
_Static_assert(offsetof(ffi_go_closure, tramp) == 0, "ffi_go_closure.tramp");
_Static_assert(offsetof(ffi_go_closure, cif) == 4, "ffi_go_closure.cif");
_Static_assert(offsetof(ffi_go_closure, fun) == 8, "ffi_go_closure.fun");

_Static_assert(sizeof(ffi_raw) == 4, "ffi_raw is one 4-byte slot");
_Static_assert(sizeof(ffi_java_raw) == 4, "ffi_java_raw is one 4-byte slot");
_Static_assert(sizeof(((ffi_raw *)0)->data) == FFI_SIZEOF_ARG, "ffi_raw.data");

#endif

/* The integer aliases name the fixed-width objects (compared as addresses at run time). */
static void check_aliases(void) {
  CHECK(&ffi_type_uchar == &ffi_type_uint8);
  CHECK(&ffi_type_schar == &ffi_type_sint8);
  CHECK(&ffi_type_ushort == &ffi_type_uint16);
  CHECK(&ffi_type_sshort == &ffi_type_sint16);
  CHECK(&ffi_type_uint == &ffi_type_uint32);
  CHECK(&ffi_type_sint == &ffi_type_sint32);
#if defined(__x86_64__) || defined(__aarch64__)
  CHECK(&ffi_type_ulong == &ffi_type_uint64);
  CHECK(&ffi_type_slong == &ffi_type_sint64);
#else /* long is 32 bits on i386 */
  CHECK(&ffi_type_ulong == &ffi_type_uint32);
  CHECK(&ffi_type_slong == &ffi_type_sint32);
#endif
}

/* size, alignment, type code and (for scalars) NULL elements of a predefined type. */
static void check_scalar(const char *name, const ffi_type *t, size_t size, unsigned align,
                         unsigned code) {
  if (t->size != size || t->alignment != align || t->type != code || t->elements != NULL) {
    fprintf(stderr, "ffi_type_%s: got size %zu align %u type %u elements %p, want %zu %u %u NULL\n",
            name, t->size, t->alignment, t->type, (void *)t->elements, size, align, code);
    failures++;
  }
}

/* A complex type: size, alignment, FFI_TYPE_COMPLEX, elements = { component, NULL }. */
static void check_complex(const char *name, const ffi_type *t, size_t size, unsigned align,
                          const ffi_type *component) {
  if (t->size != size || t->alignment != align || t->type != FFI_TYPE_COMPLEX ||
      t->elements == NULL || t->elements[0] != component || t->elements[1] != NULL) {
    fprintf(stderr, "ffi_type_%s: got size %zu align %u type %u, want %zu %u %u, elements {component, NULL}\n",
            name, t->size, t->alignment, t->type, size, align, FFI_TYPE_COMPLEX);
    failures++;
  }
}

static int called;
static void touch(void) { called++; }

int main(void) {
  check_aliases();

  check_scalar("void", &ffi_type_void, 1, 1, FFI_TYPE_VOID);
  check_scalar("uint8", &ffi_type_uint8, 1, 1, FFI_TYPE_UINT8);
  check_scalar("sint8", &ffi_type_sint8, 1, 1, FFI_TYPE_SINT8);
  check_scalar("uint16", &ffi_type_uint16, 2, 2, FFI_TYPE_UINT16);
  check_scalar("sint16", &ffi_type_sint16, 2, 2, FFI_TYPE_SINT16);
  check_scalar("uint32", &ffi_type_uint32, 4, 4, FFI_TYPE_UINT32);
  check_scalar("sint32", &ffi_type_sint32, 4, 4, FFI_TYPE_SINT32);
  check_scalar("float", &ffi_type_float, 4, 4, FFI_TYPE_FLOAT);
  check_complex("complex_float", &ffi_type_complex_float, 8, 4, &ffi_type_float);
#if defined(__x86_64__) || defined(__aarch64__)
  check_scalar("uint64", &ffi_type_uint64, 8, 8, FFI_TYPE_UINT64);
  check_scalar("sint64", &ffi_type_sint64, 8, 8, FFI_TYPE_SINT64);
  check_scalar("double", &ffi_type_double, 8, 8, FFI_TYPE_DOUBLE);
  check_scalar("longdouble", &ffi_type_longdouble, 16, 16, FFI_TYPE_LONGDOUBLE);
  check_scalar("pointer", &ffi_type_pointer, 8, 8, FFI_TYPE_POINTER);
  check_complex("complex_double", &ffi_type_complex_double, 16, 8, &ffi_type_double);
  check_complex("complex_longdouble", &ffi_type_complex_longdouble, 32, 16,
                &ffi_type_longdouble);
#elif defined(__arm__)
  /* 8-aligned 64-bit values; long double is double (the header names ffi_type_longdouble
   * ffi_type_double, as libffi's Arm header does). */
  check_scalar("uint64", &ffi_type_uint64, 8, 8, FFI_TYPE_UINT64);
  check_scalar("sint64", &ffi_type_sint64, 8, 8, FFI_TYPE_SINT64);
  check_scalar("double", &ffi_type_double, 8, 8, FFI_TYPE_DOUBLE);
  check_scalar("pointer", &ffi_type_pointer, 4, 4, FFI_TYPE_POINTER);
  check_complex("complex_double", &ffi_type_complex_double, 16, 8, &ffi_type_double);
  CHECK(&ffi_type_longdouble == &ffi_type_double);
  CHECK_INT(sizeof(long double), 8);
#else
  /* i386 aligns 64-bit integers and doubles to 4 in aggregates (libffi's alignment is the
   * member offset in struct { char; T; }), and long double is 12 bytes, 4-aligned. */
  check_scalar("uint64", &ffi_type_uint64, 8, 4, FFI_TYPE_UINT64);
  check_scalar("sint64", &ffi_type_sint64, 8, 4, FFI_TYPE_SINT64);
  check_scalar("double", &ffi_type_double, 8, 4, FFI_TYPE_DOUBLE);
  check_scalar("longdouble", &ffi_type_longdouble, 12, 4, FFI_TYPE_LONGDOUBLE);
  check_scalar("pointer", &ffi_type_pointer, 4, 4, FFI_TYPE_POINTER);
  check_complex("complex_double", &ffi_type_complex_double, 16, 4, &ffi_type_double);
  check_complex("complex_longdouble", &ffi_type_complex_longdouble, 24, 4,
                &ffi_type_longdouble);
  struct { char c; double d; } sd;
  struct { char c; long double ld; } sld;
  CHECK_INT((char *)&sd.d - (char *)&sd, ffi_type_double.alignment);
  CHECK_INT((char *)&sld.ld - (char *)&sld, ffi_type_longdouble.alignment);
  CHECK_INT(sizeof(long double), ffi_type_longdouble.size);
#endif

  /* A void(void) call: every program binds ffi_call (the test harness checks where to). */
  ffi_cif cif;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_void, NULL), FFI_OK);
  CHECK_INT(cif.abi, FFI_DEFAULT_ABI);
  CHECK_INT(cif.nargs, 0);
  CHECK(cif.rtype == &ffi_type_void);
  ffi_call(&cif, FFI_FN(touch), NULL, NULL);
  CHECK_INT(called, 1);

  return finish("layout");
}
