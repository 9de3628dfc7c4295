/* misuse_strict.c: invalid input that libffi itself does not survive gets a status here.
 *
 * libffi 3.4 dereferences these NULL pointers (or aborts on the unknown type code) and
 * accepts nfixedargs > ntotalargs; closure-ffi's libffi promises a status instead. So this
 * program only runs against closure-ffi's libffi.
 *
 * Checks (each must return a status other than FFI_OK, and not crash):
 *   - ffi_prep_cif / ffi_prep_cif_var with cif == NULL;
 *   - rtype == NULL;
 *   - atypes == NULL with nargs > 0, and a NULL entry in atypes;
 *   - ffi_prep_cif_var with nfixedargs > ntotalargs;
 *   - an unknown type code (99), directly and as a struct member;
 *   - ffi_get_struct_offsets with struct_type == NULL;
 * and a valid cif still works afterwards. */

#include <ffi.h>

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
      failures++;                                                                       \
    }                                                                                   \
  } while (0)

/* A status other than FFI_OK; shows the call on failure. */
#define CHECK_NOT_OK(call)                                                              \
  do {                                                                                  \
    ffi_status st_ = (call);                                                            \
    if (st_ == FFI_OK) {                                                                \
      fprintf(stderr, "%s:%d: %s: got FFI_OK, want an error status\n", __FILE__,        \
              __LINE__, #call);                                                         \
      failures++;                                                                       \
    }                                                                                   \
  } while (0)

static int finish(const char *name) {
  if (failures != 0) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

static int add(int a, int b) { return a + b; }

int main(void) {
  ffi_cif cif;
  ffi_type *two_int[2] = {&ffi_type_sint, &ffi_type_sint};
  ffi_type *with_null[2] = {&ffi_type_sint, NULL};

  CHECK_NOT_OK(ffi_prep_cif(NULL, FFI_DEFAULT_ABI, 2, &ffi_type_sint, two_int));
  CHECK_NOT_OK(ffi_prep_cif_var(NULL, FFI_DEFAULT_ABI, 1, 2, &ffi_type_sint, two_int));

  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, NULL, two_int));
  CHECK_NOT_OK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, NULL, two_int));

  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, NULL));
  CHECK_NOT_OK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_sint, NULL));
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, with_null));

  CHECK_NOT_OK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 2, &ffi_type_sint, two_int));

  ffi_type unknown = {4, 4, 99, NULL};
  ffi_type *bad_arg[1] = {&unknown};
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, bad_arg));
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &unknown, NULL));
  ffi_type *bad_el[3] = {&ffi_type_sint, &unknown, NULL};
  ffi_type bad_struct = {0, 0, FFI_TYPE_STRUCT, bad_el};
  ffi_type *bad_struct_arg[1] = {&bad_struct};
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, bad_struct_arg));

  size_t offs[2];
  CHECK_NOT_OK(ffi_get_struct_offsets(FFI_DEFAULT_ABI, NULL, offs));

  /* Still usable. */
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, two_int) == FFI_OK);
  int a = 40, b = 2;
  void *av[2] = {&a, &b};
  ffi_arg r = 0;
  ffi_call(&cif, FFI_FN(add), &r, av);
  CHECK((int)r == 42);

  return finish("misuse_strict");
}
