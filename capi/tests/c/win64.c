/* win64.c: the Microsoft x64 convention (FFI_WIN64, FFI_EFI64, FFI_GNUW64) on Linux.
 *
 * libffi's x86_64 Linux build also calls and implements functions using the Microsoft x64
 * convention (gcc's __attribute__((ms_abi))): four register slots shared between
 * integers (rcx, rdx, r8, r9) and floating point (xmm0-3), 32 bytes of shadow space, the
 * rest on the stack; structs of 1, 2, 4 or 8 bytes by value, others by reference.
 *
 * Checks, for each of FFI_WIN64, FFI_EFI64 and FFI_GNUW64:
 *   - a call mixing int, double, long, float and two stack arguments;
 *   - an 8-byte struct by value and returned in rax, a 12-byte struct (by reference)
 *     returned through a hidden pointer;
 *   - a closure prepared with the ABI, called from C through an ms_abi function pointer.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stdio.h>

#define MS __attribute__((ms_abi))

#include "check.h"

static ffi_abi current_abi;

struct s8 { int a, b; };
static ffi_type *s8_el[] = {&ffi_type_sint, &ffi_type_sint, NULL};
static ffi_type s8_t = {0, 0, FFI_TYPE_STRUCT, s8_el};
struct s12 { int a, b, c; };
static ffi_type *s12_el[] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_sint, NULL};
static ffi_type s12_t = {0, 0, FFI_TYPE_STRUCT, s12_el};

static MS double mix(int a, double b, long c, float d, long e, double f) {
  return a + b * 2 + (double)c * 4 + d * 8 + (double)e * 16 + f * 32;
}
static MS struct s8 swap8(struct s8 x, int k) {
  struct s8 r = {x.b * k, x.a * k};
  return r;
}
static MS struct s12 rot12(long pad, struct s12 x) {
  struct s12 r = {x.c + (int)pad, x.a, x.b};
  return r;
}

/* Closure: long (long, double, int, long, long) -> weighted sum. */
static void cb(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(ffi_sarg *)ret = *(long *)args[0] + (long)(*(double *)args[1] * 10) +
                     *(int *)args[2] * 100 + *(long *)args[3] * 1000 + *(long *)args[4] * 10000;
}
typedef MS long (*ms_fn)(long, double, int, long, long);

static void test_abi(ffi_abi abi) {
  current_abi = abi;
  ffi_cif cif;
  ffi_type *t6[6] = {&ffi_type_sint, &ffi_type_double, &ffi_type_slong,
                     &ffi_type_float, &ffi_type_slong, &ffi_type_double};
  CHECK(ffi_prep_cif(&cif, abi, 6, &ffi_type_double, t6) == FFI_OK);
  int a = 1;
  double b = 0.5, f = 0.25;
  long c = -3, e = 7;
  float d = 1.5f;
  void *av6[6] = {&a, &b, &c, &d, &e, &f};
  double r = 0;
  ffi_call(&cif, FFI_FN(mix), &r, av6);
  CHECK(r == mix(a, b, c, d, e, f));

  ffi_type *t2[2] = {&s8_t, &ffi_type_sint};
  CHECK(ffi_prep_cif(&cif, abi, 2, &s8_t, t2) == FFI_OK);
  struct s8 x = {3, 4}, rx = {0, 0};
  int k = -2;
  void *av2[2] = {&x, &k};
  ffi_call(&cif, FFI_FN(swap8), &rx, av2);
  CHECK(rx.a == -8 && rx.b == -6);

  ffi_type *t12[2] = {&ffi_type_slong, &s12_t};
  CHECK(ffi_prep_cif(&cif, abi, 2, &s12_t, t12) == FFI_OK);
  struct s12 y = {1, 2, 3}, ry = {0, 0, 0};
  long pad = 100;
  void *av12[2] = {&pad, &y};
  ffi_call(&cif, FFI_FN(rot12), &ry, av12);
  CHECK(ry.a == 103 && ry.b == 1 && ry.c == 2);

  void *code = NULL;
  ffi_closure *w = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(w != NULL && code != NULL);
  if (w == NULL || code == NULL)
    return;
  ffi_cif ccif;
  ffi_type *tc[5] = {&ffi_type_slong, &ffi_type_double, &ffi_type_sint, &ffi_type_slong,
                     &ffi_type_slong};
  CHECK(ffi_prep_cif(&ccif, abi, 5, &ffi_type_slong, tc) == FFI_OK);
  CHECK(ffi_prep_closure_loc(w, &ccif, cb, NULL, code) == FFI_OK);
  CHECK(((ms_fn)code)(1, 0.5, 3, 4, 5) == 1 + 5 + 300 + 4000 + 50000);
  ffi_closure_free(w);
}

int main(void) {
  test_abi(FFI_WIN64);
  test_abi(FFI_EFI64);
  test_abi(FFI_GNUW64);
  if (failures != 0) {
    fprintf(stderr, "win64: %d check(s) failed\n", failures);
    return 1;
  }
  printf("win64: all checks passed\n");
  return 0;
}
