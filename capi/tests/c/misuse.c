/* misuse.c: invalid input gets a status, not a crash (the cases libffi 3.4 already handles).
 *
 * Checks:
 *   - ffi_prep_cif and ffi_prep_cif_var with abi 0 (FFI_FIRST_ABI), FFI_LAST_ABI and 1000
 *     return FFI_BAD_ABI;
 *   - a struct type with an empty element list, or with elements == NULL, as argument or
 *     return type: FFI_BAD_TYPEDEF;
 *   - ffi_get_struct_offsets on a non-struct type or an empty struct: FFI_BAD_TYPEDEF; with a
 *     bad ABI: FFI_BAD_ABI;
 *   - ffi_closure_alloc with code == NULL returns NULL; ffi_closure_free(NULL) does nothing;
 *   - after all that, a valid cif still prepares and calls.
 * NULL pointers and inconsistent counts are in misuse_strict.c (libffi 3.4 crashes on them).
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stdio.h>

#include "check.h"

static int add(int a, int b) { return a + b; }

int main(void) {
  ffi_cif cif;
  ffi_type *one_int[1] = {&ffi_type_sint};

  /* Bad ABIs. */
  const int bad_abis[3] = {0, FFI_LAST_ABI, 1000};
  for (int i = 0; i < 3; i++) {
    ffi_abi abi = (ffi_abi)bad_abis[i];
    ffi_status st = ffi_prep_cif(&cif, abi, 1, &ffi_type_sint, one_int);
    if (st != FFI_BAD_ABI) {
      fprintf(stderr, "ffi_prep_cif with abi %d: got %d, want FFI_BAD_ABI\n", bad_abis[i], (int)st);
      failures++;
    }
    st = ffi_prep_cif_var(&cif, abi, 1, 1, &ffi_type_sint, one_int);
    if (st != FFI_BAD_ABI) {
      fprintf(stderr, "ffi_prep_cif_var with abi %d: got %d, want FFI_BAD_ABI\n", bad_abis[i],
              (int)st);
      failures++;
    }
  }

  /* Malformed struct types. */
  ffi_type *no_elements[1] = {NULL};
  ffi_type empty = {0, 0, FFI_TYPE_STRUCT, no_elements};
  ffi_type null_elements = {0, 0, FFI_TYPE_STRUCT, NULL};
  ffi_type *a1[1] = {&empty};
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, a1), FFI_BAD_TYPEDEF);
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &empty, NULL), FFI_BAD_TYPEDEF);
  a1[0] = &null_elements;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, a1), FFI_BAD_TYPEDEF);
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &null_elements, NULL), FFI_BAD_TYPEDEF);
  /* An empty struct nested in an otherwise fine one. */
  ffi_type *outer_el[3] = {&ffi_type_sint, &empty, NULL};
  ffi_type outer = {0, 0, FFI_TYPE_STRUCT, outer_el};
  a1[0] = &outer;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, a1), FFI_BAD_TYPEDEF);

  /* ffi_get_struct_offsets. */
  size_t offs[4];
  CHECK_INT(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &ffi_type_sint32, offs), FFI_BAD_TYPEDEF);
  CHECK_INT(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &ffi_type_pointer, NULL), FFI_BAD_TYPEDEF);
  CHECK_INT(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &empty, offs), FFI_BAD_TYPEDEF);
  ffi_type *ok_el[2] = {&ffi_type_sint, NULL};
  ffi_type ok_struct = {0, 0, FFI_TYPE_STRUCT, ok_el};
  CHECK_INT(ffi_get_struct_offsets((ffi_abi)0, &ok_struct, offs), FFI_BAD_ABI);
  CHECK_INT(ffi_get_struct_offsets((ffi_abi)1000, &ok_struct, offs), FFI_BAD_ABI);

  /* Closure memory. */
  CHECK(ffi_closure_alloc(sizeof(ffi_closure), NULL) == NULL);
  ffi_closure_free(NULL);

  /* Still usable. */
  ffi_type *two_int[2] = {&ffi_type_sint, &ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, two_int), FFI_OK);
  int a = 40, b = 2;
  void *av[2] = {&a, &b};
  ffi_arg r = 0;
  ffi_call(&cif, FFI_FN(add), &r, av);
  CHECK_INT((int)r, 42);

  return finish("misuse");
}
