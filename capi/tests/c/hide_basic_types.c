/* hide_basic_types.c: LIBFFI_HIDE_BASIC_TYPES hides the predefined type declarations.
 *
 * With LIBFFI_HIDE_BASIC_TYPES defined before <ffi.h>, the header declares neither the
 * ffi_type_* objects nor the ffi_type_uchar/... aliases, so a program can declare them
 * itself. Here every one is redeclared as `const ffi_type`: had the header declared them
 * (as non-const), this file would not compile. The program then calls through its own
 * declarations, which bind to the library's objects, and through a type of its own.
 *
 * Works with libffi >= 3.4. */

#define LIBFFI_HIDE_BASIC_TYPES
#include <ffi.h>

#include <stdio.h>

#if defined(ffi_type_uchar) || defined(ffi_type_schar) || defined(ffi_type_ushort) ||      \
    defined(ffi_type_sshort) || defined(ffi_type_uint) || defined(ffi_type_sint) ||        \
    defined(ffi_type_ulong) || defined(ffi_type_slong) || defined(ffi_type_longdouble)
#error "LIBFFI_HIDE_BASIC_TYPES must hide the ffi_type_* aliases"
#endif

extern const ffi_type ffi_type_void, ffi_type_uint8, ffi_type_sint8, ffi_type_uint16,
    ffi_type_sint16, ffi_type_uint32, ffi_type_sint32, ffi_type_uint64, ffi_type_sint64,
    ffi_type_float, ffi_type_double, ffi_type_longdouble, ffi_type_pointer,
    ffi_type_complex_float, ffi_type_complex_double, ffi_type_complex_longdouble,
    ffi_type_uint128, ffi_type_sint128;

#include "check.h"

/* A type object of the program's own. */
static ffi_type my_int = {sizeof(int), _Alignof(int), FFI_TYPE_SINT32, NULL};

static double scale(double a, int k) { return a * k; }

int main(void) {
  CHECK(ffi_type_double.size == 8 && ffi_type_double.type == FFI_TYPE_DOUBLE);
  CHECK(ffi_type_sint32.size == 4 && ffi_type_sint32.type == FFI_TYPE_SINT32);

  ffi_cif cif;
  ffi_type *args[2] = {(ffi_type *)&ffi_type_double, &my_int};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, (ffi_type *)&ffi_type_double, args) == FFI_OK);
  double a = 1.5, r = 0;
  int k = -4;
  void *av[2] = {&a, &k};
  ffi_call(&cif, FFI_FN(scale), &r, av);
  CHECK(r == -6.0);

  if (failures != 0) {
    fprintf(stderr, "hide_basic_types: %d check(s) failed\n", failures);
    return 1;
  }
  printf("hide_basic_types: all checks passed\n");
  return 0;
}
