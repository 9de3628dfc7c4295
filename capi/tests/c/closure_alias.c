/* closure_alias.c: closure memory is W^X: the writable and the code address differ.
 *
 * closure-ffi's ffi_closure_alloc never hands out memory that is writable and executable
 * at once: the program writes the closure through one address and calls another (libffi
 * 3.4.4 as built by Debian returns the same address for both, so this program only runs
 * against closure-ffi's libffi).
 *
 * Checks:
 *   - ffi_closure_alloc returns writable != code, both non-NULL, for several closures;
 *   - the closure prepared through the writable address runs at the code address, with its
 *     fields (cif, fun, user_data) readable through the writable address;
 *   - re-preparing a live closure with another callback and user_data takes effect;
 *   - ffi_closure_free takes the writable address. */

#include <ffi.h>

#include <stdio.h>

#include "check.h"

/* long (long): x + *(long *)user_data. */
static void cb_add(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  *(ffi_sarg *)ret = *(long *)args[0] + *(long *)ud;
}
/* long (long): x * *(long *)user_data. */
static void cb_mul(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  *(ffi_sarg *)ret = *(long *)args[0] * *(long *)ud;
}

int main(void) {
  enum { N = 8 };
  ffi_closure *w[N];
  void *code[N];
  long k[N];
  ffi_cif cif;
  ffi_type *t[1] = {&ffi_type_slong};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_slong, t) == FFI_OK);

  for (int i = 0; i < N; i++) {
    code[i] = NULL;
    k[i] = i + 1;
    w[i] = ffi_closure_alloc(sizeof(ffi_closure), &code[i]);
    CHECK(w[i] != NULL && code[i] != NULL);
    if (w[i] == NULL || code[i] == NULL)
      return finish("closure_alias");
#if !defined(__arm__)
    /* 32-bit Arm: closure-ffi's JIT memory is one read-write-execute mapping by default
     * (src/jit/pool.rs, DUAL_MAPPING_BY_DEFAULT), so there the addresses are equal. */
    if ((void *)w[i] == code[i]) {
      fprintf(stderr, "closure %d: writable and code address are both %p\n", i, code[i]);
      failures++;
    }
#endif
    CHECK(ffi_prep_closure_loc(w[i], &cif, cb_add, &k[i], code[i]) == FFI_OK);
    CHECK(w[i]->cif == &cif && w[i]->fun == cb_add && w[i]->user_data == &k[i]);
  }
  for (int i = 0; i < N; i++)
    CHECK(((long (*)(long))code[i])(100) == 100 + i + 1);

  /* Re-prepare closure 0 with another callback. */
  long factor = 7;
  CHECK(ffi_prep_closure_loc(w[0], &cif, cb_mul, &factor, code[0]) == FFI_OK);
  CHECK(w[0]->fun == cb_mul && w[0]->user_data == &factor);
  CHECK(((long (*)(long))code[0])(6) == 42);
  CHECK(((long (*)(long))code[1])(6) == 8);

  long r = 0, x = 3;
  void *av[1] = {&x};
  ffi_call(&cif, FFI_FN(code[0]), &r, av);
  CHECK(r == 21);

  for (int i = 0; i < N; i++)
    ffi_closure_free(w[i]);
  return finish("closure_alias");
}
