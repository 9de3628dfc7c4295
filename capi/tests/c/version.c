/* version.c: the libffi 3.5+ queries and the libffi 3.8 header additions.
 *
 * Checks:
 *   - ffi_get_version() is a "major.minor.patch" string agreeing with
 *     ffi_get_version_number() (major * 10000 + minor * 100 + patch), which is >= 30400;
 *   - ffi_get_default_abi() == FFI_DEFAULT_ABI;
 *   - ffi_get_closure_size() == sizeof(ffi_closure);
 *   - the header: FFI_VERSION_STRING / FFI_VERSION_NUMBER agree, FFI_TYPE_UINT128 16,
 *     FFI_TYPE_SINT128 17, FFI_TYPE_VECTOR 18, FFI_TYPE_LAST 18, FFI_EXEC_TRAMPOLINE_TABLE 0,
 *     FFI_TARGET_HAS_INT128 (x86_64 only; the library exports ffi_type_[su]int128 exactly
 *     when it is defined), FFI_CL and FFI_FN are inverse casts, ffi_call_plan is declared.
 *
 * Needs libffi >= 3.8 (ffi_get_version is 3.5, the header constants 3.8). */

#include <ffi.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

_Static_assert(FFI_TYPE_UINT128 == 16, "FFI_TYPE_UINT128");
_Static_assert(FFI_TYPE_SINT128 == 17, "FFI_TYPE_SINT128");
_Static_assert(FFI_TYPE_VECTOR == 18, "FFI_TYPE_VECTOR");
_Static_assert(FFI_TYPE_LAST == 18, "FFI_TYPE_LAST");
_Static_assert(FFI_EXEC_TRAMPOLINE_TABLE == 0, "FFI_EXEC_TRAMPOLINE_TABLE");
_Static_assert(FFI_VERSION_NUMBER == 30800, "FFI_VERSION_NUMBER");
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(FFI_TARGET_HAS_INT128)
#error "FFI_TARGET_HAS_INT128 must be defined on x86_64 and aarch64"
#endif
#if defined(__i386__) && defined(FFI_TARGET_HAS_INT128)
#error "FFI_TARGET_HAS_INT128 must not be defined on i386 (no __int128 there)"
#endif
#ifndef FFI_API
#error "FFI_API must be defined"
#endif
#ifndef FFI_EXTERN
#error "FFI_EXTERN must be defined"
#endif

/* Usable as an incomplete type. */
static ffi_call_plan *no_plan;

/* Parses "major.minor.patch" (patch optional) into a version number; -1 if malformed. */
static long parse_version(const char *s) {
  unsigned major = 0, minor = 0, patch = 0;
  int n = 0;
  if (sscanf(s, "%u.%u%n", &major, &minor, &n) != 2)
    return -1;
  if (s[n] == '.' && sscanf(s + n, ".%u", &patch) != 1)
    return -1;
  return (long)(major * 10000 + minor * 100 + patch);
}

static int answer(void) { return 42; }

int main(void) {
  CHECK(strcmp(FFI_VERSION_STRING, "3.8.0") == 0);
  CHECK_INT(parse_version(FFI_VERSION_STRING), FFI_VERSION_NUMBER);

  const char *v = ffi_get_version();
  unsigned long n = ffi_get_version_number();
  CHECK(v != NULL);
  if (v != NULL) {
    printf("ffi_get_version() = \"%s\", ffi_get_version_number() = %lu\n", v, n);
    CHECK_INT(parse_version(v), (long long)n);
  }
  CHECK(n >= 30400);

  CHECK_INT(ffi_get_default_abi(), FFI_DEFAULT_ABI);
  CHECK_INT(ffi_get_closure_size(), sizeof(ffi_closure));

  /* FFI_FN and FFI_CL round-trip a function pointer; call it through ffi_call. */
  void *p = FFI_CL(answer);
  CHECK(FFI_FN(p) == FFI_FN(answer));
  ffi_cif cif;
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_sint, NULL) == FFI_OK);
  ffi_arg r = 0;
  ffi_call(&cif, FFI_FN(p), &r, NULL);
  CHECK_INT((int)r, 42);
  CHECK(no_plan == NULL);

  /* The __int128 type objects exist where the header says so (x86_64), and only there. */
#ifdef FFI_TARGET_HAS_INT128
  CHECK(dlsym(RTLD_DEFAULT, "ffi_type_uint128") != NULL);
  CHECK(dlsym(RTLD_DEFAULT, "ffi_type_sint128") != NULL);
#else
  CHECK(dlsym(RTLD_DEFAULT, "ffi_type_uint128") == NULL);
  CHECK(dlsym(RTLD_DEFAULT, "ffi_type_sint128") == NULL);
#endif

  return finish("version");
}
