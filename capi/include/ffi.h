/* ffi.h: the public interface of closure-ffi's drop-in libffi (libffi.so.8).
 *
 * closure-ffi-capi implements libffi's C API (as of libffi 3.8) on top of closure-ffi's
 * dynamic layer. A C program written against libffi 3.4 to 3.8 compiles against this header
 * unchanged and links against libffi.so.8 with libffi's symbol versions. Type codes, enum
 * values, struct layouts and signatures are those of libffi's x86_64, i386, aarch64 and
 * 32-bit Arm Linux builds; this header supports no other target (see ffitarget.h). Layouts
 * are given below for x86_64 and i386 (offsets in bytes, x86_64 / i386); aarch64's are
 * x86_64's except that the closures' tramp is 24 bytes, so every closure field after it
 * sits 8 bytes earlier; 32-bit Arm's are i386's except 8-aligned 64-bit values, a 48-byte
 * ffi_cif (libffi's VFP fields after flags), a 12-byte tramp and closures with
 * translate_args and this_closure.
 *
 * Summary of the interface (see the libffi manual for the full contract):
 *   - describe a signature with ffi_type objects and ffi_prep_cif / ffi_prep_cif_var;
 *   - call a function through it with ffi_call (or a prepared ffi_call_plan);
 *   - make a C function pointer that runs a callback with ffi_closure_alloc and
 *     ffi_prep_closure_loc;
 *   - the raw, Java raw and Go closure interfaces are provided for compatibility.
 *
 * Macros a program may define before including this header:
 *   LIBFFI_HIDE_BASIC_TYPES  do not declare the predefined ffi_type objects (ffi_type_sint32
 *                            and friends) nor the ffi_type_uchar/... aliases;
 *   LIBFFI_ASM               only the preprocessor constants (for assembly sources).
 */

#ifndef LIBFFI_H
#define LIBFFI_H

#ifdef __cplusplus
extern "C" {
#endif

/* Quotes: the ffitarget.h next to this file, never another libffi's. */
#include "ffitarget.h"

/* ---- Version ------------------------------------------------------------------------ */

/* The libffi release whose interface this header provides. The number is
 * major * 10000 + minor * 100 + patch. */
#define FFI_VERSION_STRING "3.8.0"
#define FFI_VERSION_NUMBER 30800

/* ---- Type codes (ffi_type.type) ----------------------------------------------------- */

#define FFI_TYPE_VOID       0
#define FFI_TYPE_INT        1   /* no predefined ffi_type uses this code */
#define FFI_TYPE_FLOAT      2
#define FFI_TYPE_DOUBLE     3
#ifdef FFI_TARGET_LONGDOUBLE_IS_DOUBLE
#define FFI_TYPE_LONGDOUBLE FFI_TYPE_DOUBLE   /* 32-bit Arm: long double is double */
#else
#define FFI_TYPE_LONGDOUBLE 4   /* x87 80-bit extended, in 16 bytes (x86_64) or 12 (i386);
                                   IEEE binary128 on aarch64 */
#endif
#define FFI_TYPE_UINT8      5
#define FFI_TYPE_SINT8      6
#define FFI_TYPE_UINT16     7
#define FFI_TYPE_SINT16     8
#define FFI_TYPE_UINT32     9
#define FFI_TYPE_SINT32     10
#define FFI_TYPE_UINT64     11
#define FFI_TYPE_SINT64     12
#define FFI_TYPE_STRUCT     13  /* elements: the members, NULL-terminated */
#define FFI_TYPE_POINTER    14
#define FFI_TYPE_COMPLEX    15  /* elements: { the component type, NULL } */
#define FFI_TYPE_UINT128    16
#define FFI_TYPE_SINT128    17
#define FFI_TYPE_VECTOR     18  /* elements: N copies of one scalar type, NULL-terminated */

/* The highest type code in use. */
#define FFI_TYPE_LAST       FFI_TYPE_VECTOR

/* Closures live in ordinary (trampoline-carrying) memory, not in a trampoline table. */
#define FFI_EXEC_TRAMPOLINE_TABLE 0

#ifndef LIBFFI_ASM

#include <stddef.h>
#include <limits.h>

/* ---- Limits ------------------------------------------------------------------------- */

/* The largest signed 64-bit value, as a preprocessor-usable literal. */
#define FFI_64_BIT_MAX 9223372036854775807

/* The largest long long, whatever name the C library gives it in the current mode. */
#if defined(LONG_LONG_MAX)
# define FFI_LONG_LONG_MAX LONG_LONG_MAX
#elif defined(LLONG_MAX)
# define FFI_LONG_LONG_MAX LLONG_MAX
#else
# define FFI_LONG_LONG_MAX __LONG_LONG_MAX__
#endif

/* ---- Declaration decorations -------------------------------------------------------- */

/* Marks a function of the library. Nothing is needed on ELF targets. */
#define FFI_API

/* Declares a data object of the library. With LIBFFI_HIDE_BASIC_TYPES it carries no
 * `extern`, so that a translation unit that hides the basic types can define its own. */
#if defined(LIBFFI_HIDE_BASIC_TYPES)
# define FFI_EXTERN FFI_API
#else
# define FFI_EXTERN extern FFI_API
#endif

#if defined(__GNUC__) || defined(__clang__)
# define FFI_DEPRECATED_(why) __attribute__((deprecated(why)))
#else
# define FFI_DEPRECATED_(why)
#endif

/* ---- ffi_type ----------------------------------------------------------------------- */

/* Describes one C type. For a struct (or complex, or vector) the program sets size and
 * alignment to 0, type to the kind and elements to the NULL-terminated member list;
 * ffi_prep_cif computes size and alignment in place.
 *
 *   offset (x86_64 / i386)  field
 *        0 /  0            size        bytes the type occupies, including tail padding
 *        8 /  4            alignment   required alignment in bytes
 *       10 /  6            type        an FFI_TYPE_* code
 *       16 /  8            elements    members of an aggregate, or NULL
 *   sizeof 24 / 12, alignment 8 / 4 */
typedef struct _ffi_type {
  size_t size;
  unsigned short alignment;
  unsigned short type;
  struct _ffi_type **elements;
} ffi_type;

#ifndef LIBFFI_HIDE_BASIC_TYPES

/* Aliases naming C's integer types (char 8, short 16, int 32 bits; long 64 bits on x86_64
 * and aarch64, 32 on i386). */
#define ffi_type_uchar  ffi_type_uint8
#define ffi_type_schar  ffi_type_sint8
#define ffi_type_ushort ffi_type_uint16
#define ffi_type_sshort ffi_type_sint16
#define ffi_type_uint   ffi_type_uint32
#define ffi_type_sint   ffi_type_sint32
#if LONG_MAX == 2147483647
# define ffi_type_ulong ffi_type_uint32
# define ffi_type_slong ffi_type_sint32
#else
# define ffi_type_ulong ffi_type_uint64
# define ffi_type_slong ffi_type_sint64
#endif

/* The predefined scalar types, exported by the library. */
FFI_EXTERN ffi_type ffi_type_void;
FFI_EXTERN ffi_type ffi_type_uint8;
FFI_EXTERN ffi_type ffi_type_sint8;
FFI_EXTERN ffi_type ffi_type_uint16;
FFI_EXTERN ffi_type ffi_type_sint16;
FFI_EXTERN ffi_type ffi_type_uint32;
FFI_EXTERN ffi_type ffi_type_sint32;
FFI_EXTERN ffi_type ffi_type_uint64;
FFI_EXTERN ffi_type ffi_type_sint64;
FFI_EXTERN ffi_type ffi_type_float;
FFI_EXTERN ffi_type ffi_type_double;
FFI_EXTERN ffi_type ffi_type_longdouble;
FFI_EXTERN ffi_type ffi_type_pointer;
#ifdef FFI_TARGET_LONGDOUBLE_IS_DOUBLE
/* As libffi's header where long double is double (the objects stay exported). */
# define ffi_type_longdouble ffi_type_double
# define ffi_type_complex_longdouble ffi_type_complex_double
#endif

#ifdef FFI_TARGET_HAS_COMPLEX_TYPE
FFI_EXTERN ffi_type ffi_type_complex_float;
FFI_EXTERN ffi_type ffi_type_complex_double;
FFI_EXTERN ffi_type ffi_type_complex_longdouble;
#endif

#ifdef FFI_TARGET_HAS_INT128
FFI_EXTERN ffi_type ffi_type_uint128;
FFI_EXTERN ffi_type ffi_type_sint128;
#endif

#endif /* !LIBFFI_HIDE_BASIC_TYPES */

/* ---- Status and call interface ------------------------------------------------------ */

typedef enum {
  FFI_OK = 0,
  FFI_BAD_TYPEDEF = 1,   /* a type description is malformed (e.g. an empty struct) */
  FFI_BAD_ABI = 2,       /* the ABI is not one this build supports */
  FFI_BAD_ARGTYPE = 3    /* a type that cannot be passed there (e.g. a variadic float) */
} ffi_status;

/* A prepared call signature (call interface). ffi_prep_cif fills it; it keeps pointers to
 * the caller's rtype and arg_types, which must outlive it. bytes and flags are private to
 * the implementation.
 *
 *   offset (x86_64 / i386)  field
 *        0 /  0            abi
 *        4 /  4            nargs
 *        8 /  8            arg_types
 *       16 / 12            rtype
 *       24 / 16            bytes
 *       28 / 20            flags
 *   sizeof 32 / 24, alignment 8 / 4 */
typedef struct {
  ffi_abi abi;
  unsigned nargs;
  ffi_type **arg_types;
  ffi_type *rtype;
  unsigned bytes;
  unsigned flags;
#ifdef FFI_EXTRA_CIF_FIELDS
  FFI_EXTRA_CIF_FIELDS;
#endif
} ffi_cif;

/* Prepares cif for a call with nargs fixed arguments of types atypes[0..nargs) returning
 * rtype. Lays out any struct type whose size is 0. */
FFI_API ffi_status ffi_prep_cif(ffi_cif *cif, ffi_abi abi, unsigned int nargs,
                                ffi_type *rtype, ffi_type **atypes);

/* Prepares cif for a variadic function: nfixedargs named arguments followed by
 * ntotalargs - nfixedargs variadic ones. Variadic arguments must already be promoted
 * (no float, no integer narrower than int): otherwise FFI_BAD_ARGTYPE. */
FFI_API ffi_status ffi_prep_cif_var(ffi_cif *cif, ffi_abi abi, unsigned int nfixedargs,
                                    unsigned int ntotalargs, ffi_type *rtype,
                                    ffi_type **atypes);

/* Calls fn with the arguments *avalue[i]. The result is stored at rvalue (an integral
 * result narrower than ffi_arg is widened to a whole ffi_arg); rvalue may be NULL to
 * discard it. */
FFI_API void ffi_call(ffi_cif *cif, void (*fn)(void), void *rvalue, void **avalue);

/* Lays out struct_type for abi and, unless offsets is NULL, stores the offset of each
 * member in offsets[i]. FFI_BAD_TYPEDEF if struct_type is not a struct. */
FFI_API ffi_status ffi_get_struct_offsets(ffi_abi abi, ffi_type *struct_type,
                                          size_t *offsets);

/* The library's version: "3.8.0" and 30800 for this interface. */
FFI_API const char *ffi_get_version(void);
FFI_API unsigned long ffi_get_version_number(void);
/* FFI_DEFAULT_ABI of the library's build, for programs that load it at run time. */
FFI_API unsigned int ffi_get_default_abi(void);
/* sizeof(ffi_closure) in the library's build. */
FFI_API size_t ffi_get_closure_size(void);

/* Casts a function pointer to the type ffi_call takes, and back to a data pointer. */
#define FFI_FN(f) ((void (*)(void))(f))
#define FFI_CL(f) ((void *)(f))

/* ---- Call plans --------------------------------------------------------------------- */

/* A call plan does the signature-dependent work of ffi_call once, ahead of the calls.
 * ffi_call_plan_alloc returns NULL only when out of memory; the cif must outlive the plan.
 * ffi_call_plan_invoke behaves as ffi_call with the plan's cif; a plan is immutable and may
 * be invoked from several threads at once. ffi_call_plan_free(NULL) does nothing.
 * ffi_call_plan_size is the number of bytes the plan occupies (0 for NULL). */
typedef struct ffi_call_plan ffi_call_plan;

FFI_API ffi_call_plan *ffi_call_plan_alloc(ffi_cif *cif);
FFI_API void ffi_call_plan_invoke(ffi_call_plan *plan, void (*fn)(void), void *rvalue,
                                  void **avalue);
FFI_API void ffi_call_plan_free(ffi_call_plan *plan);
FFI_API size_t ffi_call_plan_size(ffi_call_plan *plan);

/* ---- Raw API ------------------------------------------------------------------------ */

/* One argument slot of the raw API. An argument occupies its size rounded up to whole
 * slots (integers narrower than a slot are widened to fill it), except a struct or complex
 * number, which occupies one slot holding a pointer to it. */
typedef union {
  ffi_sarg sint;
  ffi_arg uint;
  float flt;
  char data[FFI_SIZEOF_ARG];
  void *ptr;
} ffi_raw;

/* The Java raw API uses the same slots on both targets. */
typedef ffi_raw ffi_java_raw;

FFI_API void ffi_raw_call(ffi_cif *cif, void (*fn)(void), void *rvalue, ffi_raw *avalue);
FFI_API void ffi_ptrarray_to_raw(ffi_cif *cif, void **args, ffi_raw *raw);
FFI_API void ffi_raw_to_ptrarray(ffi_cif *cif, ffi_raw *raw, void **args);
FFI_API size_t ffi_raw_size(ffi_cif *cif);

#if !FFI_NATIVE_RAW_API
FFI_API void ffi_java_raw_call(ffi_cif *cif, void (*fn)(void), void *rvalue,
                               ffi_java_raw *avalue)
    FFI_DEPRECATED_("the Java raw API is deprecated");
#endif
FFI_API void ffi_java_ptrarray_to_raw(ffi_cif *cif, void **args, ffi_java_raw *raw)
    FFI_DEPRECATED_("the Java raw API is deprecated");
FFI_API void ffi_java_raw_to_ptrarray(ffi_cif *cif, ffi_java_raw *raw, void **args)
    FFI_DEPRECATED_("the Java raw API is deprecated");
FFI_API size_t ffi_java_raw_size(ffi_cif *cif)
    FFI_DEPRECATED_("the Java raw API is deprecated");

/* ---- Closures ----------------------------------------------------------------------- */

#if FFI_CLOSURES

/* A closure: FFI_TRAMPOLINE_SIZE bytes of code that, when called through the code address
 * ffi_closure_alloc returned, runs fun(cif, ret, args, user_data).
 *
 *   offset (x86_64 / i386)  field
 *        0 /  0            tramp / ftramp   trampoline (private to the implementation)
 *       32 / 16            cif
 *       40 / 20            fun
 *       48 / 24            user_data
 *   sizeof 56 / 28, alignment 8 (on the typedef: it does not pad the i386 size) */
typedef struct {
  union {
    char tramp[FFI_TRAMPOLINE_SIZE];
    void *ftramp;
  };
  ffi_cif *cif;
  void (*fun)(ffi_cif *, void *, void **, void *);
  void *user_data;
} ffi_closure __attribute__((aligned(8)));

/* Allocates size bytes (at least sizeof(ffi_closure)) for a closure. Returns the writable
 * address and stores the address to call through in *code; the two may differ. NULL on
 * failure or if code is NULL. */
FFI_API void *ffi_closure_alloc(size_t size, void **code);
/* Frees memory from ffi_closure_alloc (by its writable address); NULL does nothing. */
FFI_API void ffi_closure_free(void *);

/* Identity on this target (they tag pointers on PA-RISC only). */
#define FFI_CLOSURE_PTR(X) (X)
#define FFI_RESTORE_PTR(X) (X)

/* Makes closure (writable address) callable at codeloc (its code address) with the
 * signature cif. Integral results narrower than ffi_arg must be written to ret as a whole
 * ffi_arg. */
FFI_API ffi_status ffi_prep_closure_loc(ffi_closure *closure, ffi_cif *cif,
                                        void (*fun)(ffi_cif *, void *, void **, void *),
                                        void *user_data, void *codeloc);

/* ffi_prep_closure_loc with codeloc = closure: wrong when the code address differs. */
FFI_API ffi_status ffi_prep_closure(ffi_closure *closure, ffi_cif *cif,
                                    void (*fun)(ffi_cif *, void *, void **, void *),
                                    void *user_data)
    FFI_DEPRECATED_("use ffi_prep_closure_loc instead");

/* A closure whose callback receives its arguments in raw form. On x86_64
 * (FFI_NATIVE_RAW_API 0) its first 56 bytes have ffi_closure's shape: translate_args sits
 * where ffi_closure has fun and this_closure where it has user_data, so the ordinary closure
 * trampoline runs the translation, which then calls fun with an ffi_raw array. On i386
 * (FFI_NATIVE_RAW_API 1) those two fields do not exist.
 *
 *   offset (x86_64 / i386)  field
 *        0 /  0            tramp
 *       32 / 16            cif
 *       40 /  -            translate_args   (private)
 *       48 /  -            this_closure     (private)
 *       56 / 20            fun
 *       64 / 24            user_data
 *   sizeof 72 / 28, alignment 8 / 4 */
typedef struct {
  char tramp[FFI_TRAMPOLINE_SIZE];
  ffi_cif *cif;
#if !FFI_NATIVE_RAW_API
  void (*translate_args)(ffi_cif *, void *, void **, void *);
  void *this_closure;
#endif
  void (*fun)(ffi_cif *, void *, ffi_raw *, void *);
  void *user_data;
} ffi_raw_closure;

/* The same for the Java raw API. */
typedef struct {
  char tramp[FFI_TRAMPOLINE_SIZE];
  ffi_cif *cif;
#if !FFI_NATIVE_RAW_API
  void (*translate_args)(ffi_cif *, void *, void **, void *);
  void *this_closure;
#endif
  void (*fun)(ffi_cif *, void *, ffi_java_raw *, void *);
  void *user_data;
} ffi_java_raw_closure;

FFI_API ffi_status ffi_prep_raw_closure(ffi_raw_closure *closure, ffi_cif *cif,
                                        void (*fun)(ffi_cif *, void *, ffi_raw *, void *),
                                        void *user_data);
FFI_API ffi_status ffi_prep_raw_closure_loc(ffi_raw_closure *closure, ffi_cif *cif,
                                            void (*fun)(ffi_cif *, void *, ffi_raw *, void *),
                                            void *user_data, void *codeloc);

/* Java raw closures exist only where the raw API is translated (not on i386). */
#if !FFI_NATIVE_RAW_API
FFI_API ffi_status ffi_prep_java_raw_closure(ffi_java_raw_closure *closure, ffi_cif *cif,
                                             void (*fun)(ffi_cif *, void *, ffi_java_raw *,
                                                         void *),
                                             void *user_data)
    FFI_DEPRECATED_("the Java raw API is deprecated");
FFI_API ffi_status ffi_prep_java_raw_closure_loc(ffi_java_raw_closure *closure, ffi_cif *cif,
                                                 void (*fun)(ffi_cif *, void *,
                                                             ffi_java_raw *, void *),
                                                 void *user_data, void *codeloc)
    FFI_DEPRECATED_("the Java raw API is deprecated");
#endif

#endif /* FFI_CLOSURES */

/* ---- Go closures -------------------------------------------------------------------- */

#if FFI_GO_CLOSURES

/* A closure that needs no executable memory: tramp is a static entry point of the library,
 * and the caller passes the ffi_go_closure itself in the static-chain register (x86_64:
 * r10; aarch64: x18; arm: ip; i386: ecx, or eax for FFI_THISCALL and FFI_FASTCALL;
 * FFI_REGISTER has none). fun receives the closure as its user_data argument.
 *
 *   offset (x86_64 / i386)  field
 *        0 / 0             tramp
 *        8 / 4             cif
 *       16 / 8             fun
 *   sizeof 24 / 12, alignment 8 / 4 */
typedef struct {
  void *tramp;
  ffi_cif *cif;
  void (*fun)(ffi_cif *, void *, void **, void *);
} ffi_go_closure;

FFI_API ffi_status ffi_prep_go_closure(ffi_go_closure *closure, ffi_cif *cif,
                                       void (*fun)(ffi_cif *, void *, void **, void *));

/* ffi_call that also loads closure into the static-chain register. */
FFI_API void ffi_call_go(ffi_cif *cif, void (*fn)(void), void *rvalue, void **avalue,
                         void *closure);

#endif /* FFI_GO_CLOSURES */

#undef FFI_DEPRECATED_

#endif /* !LIBFFI_ASM */

#ifdef __cplusplus
}
#endif

#endif /* LIBFFI_H */
