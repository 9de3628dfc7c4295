/* int128.c: unsigned/signed __int128 (libffi 3.6: FFI_TYPE_UINT128 / FFI_TYPE_SINT128).
 *
 * Checks:
 *   - ffi_type_uint128 / ffi_type_sint128: size 16, alignment 16, codes 16 and 17;
 *   - calls passing and returning __int128 in a register pair (rax:rdx on return);
 *   - an __int128 that no longer fits in the GPRs goes to the stack whole (16-aligned)
 *     while a later long still takes the GPR left over, and one after other stack
 *     arguments is 16-aligned on the stack;
 *   - structs { __int128 } (16 bytes, registers) and { __int128; long } (memory);
 *   - a closure taking and returning __int128.
 *
 * Needs libffi >= 3.6. */

#include <ffi.h>

#include <stdint.h>
#include <stdio.h>

#ifndef FFI_TARGET_HAS_INT128
#error "FFI_TARGET_HAS_INT128 must be defined on x86_64"
#endif

#include "check.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

/* Compares two 128-bit values and shows both in hex on failure. */
#define CHECK_128(got, want) check_128(__FILE__, __LINE__, #got, (u128)(got), (u128)(want))
static void check_128(const char *file, int line, const char *expr, u128 got, u128 want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s: got 0x%016llx%016llx, want 0x%016llx%016llx\n", file, line,
            expr, (unsigned long long)(got >> 64), (unsigned long long)got,
            (unsigned long long)(want >> 64), (unsigned long long)want);
    failures++;
  }
}

#define BIG ((i128)0x0123456789ABCDEFll << 64 | (u128)0xFEDCBA9876543210ull)

/* ---- Callees ---- */

static i128 mul(i128 a, long b) { return a * b; }
static u128 add(u128 a, u128 b) { return a + b; }
/* a..e in rdi..r8, x does not fit in r9 alone: stack; f in r9. */
static i128 late(long a, long b, long c, long d, long e, i128 x, long f) {
  return x + a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}
/* a..f fill the GPRs, g at 0(%rsp), x 16-aligned at 16(%rsp), h after it. */
static i128 aligned(long a, long b, long c, long d, long e, long f, long g, i128 x, long h) {
  return x * 2 + a + b + c + d + e + f + g + h * 1000;
}
struct w1 { i128 v; };
static ffi_type *w1_el[] = {&ffi_type_sint128, NULL};
static ffi_type w1_t = {0, 0, FFI_TYPE_STRUCT, w1_el};
struct w2 { i128 v; long k; };
static ffi_type *w2_el[] = {&ffi_type_sint128, &ffi_type_slong, NULL};
static ffi_type w2_t = {0, 0, FFI_TYPE_STRUCT, w2_el};
static struct w1 neg_w1(struct w1 a) { a.v = -a.v; return a; }
static struct w2 scale_w2(struct w2 a) { a.v *= a.k; a.k = -a.k; return a; }

static void cb(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(i128 *)ret = *(i128 *)args[0] - (i128)*(u128 *)args[1] * *(int *)args[2];
}

/* ---- Tests ---- */

static void test_types(void) {
  CHECK(ffi_type_uint128.size == 16 && ffi_type_uint128.alignment == 16);
  CHECK(ffi_type_sint128.size == 16 && ffi_type_sint128.alignment == 16);
  CHECK(ffi_type_uint128.type == FFI_TYPE_UINT128);
  CHECK(ffi_type_sint128.type == FFI_TYPE_SINT128);
  CHECK(ffi_type_uint128.elements == NULL && ffi_type_sint128.elements == NULL);
}

static void test_calls(void) {
  ffi_cif cif;
  ffi_type *t2[2] = {&ffi_type_sint128, &ffi_type_slong};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint128, t2) == FFI_OK);
  i128 a = BIG;
  long b = -3;
  i128 r = 0;
  void *av2[2] = {&a, &b};
  ffi_call(&cif, FFI_FN(mul), &r, av2);
  CHECK_128(r, mul(a, b));

  ffi_type *tu[2] = {&ffi_type_uint128, &ffi_type_uint128};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_uint128, tu) == FFI_OK);
  u128 x = ~(u128)0, y = 2, ur = 0;
  void *avu[2] = {&x, &y};
  ffi_call(&cif, FFI_FN(add), &ur, avu);
  CHECK_128(ur, 1);

  ffi_type *t7[7] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                     &ffi_type_slong, &ffi_type_sint128, &ffi_type_slong};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 7, &ffi_type_sint128, t7) == FFI_OK);
  long l[6] = {1, 2, 3, 4, 5, 6};
  void *av7[7] = {&l[0], &l[1], &l[2], &l[3], &l[4], &a, &l[5]};
  r = 0;
  ffi_call(&cif, FFI_FN(late), &r, av7);
  CHECK_128(r, late(1, 2, 3, 4, 5, a, 6));

  ffi_type *t9[9] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                     &ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                     &ffi_type_slong, &ffi_type_sint128, &ffi_type_slong};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 9, &ffi_type_sint128, t9) == FFI_OK);
  long m[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  void *av9[9] = {&m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &m[6], &a, &m[7]};
  r = 0;
  ffi_call(&cif, FFI_FN(aligned), &r, av9);
  CHECK_128(r, aligned(1, 2, 3, 4, 5, 6, 7, a, 8));
}

static void test_structs(void) {
  ffi_cif cif;
  ffi_type *t1[1] = {&w1_t};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &w1_t, t1) == FFI_OK);
  CHECK(w1_t.size == 16 && w1_t.alignment == 16);
  struct w1 a = {BIG}, r = {0};
  void *av1[1] = {&a};
  ffi_call(&cif, FFI_FN(neg_w1), &r, av1);
  CHECK_128(r.v, -BIG);

  ffi_type *t2[1] = {&w2_t};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &w2_t, t2) == FFI_OK);
  CHECK(w2_t.size == sizeof(struct w2) && w2_t.alignment == 16);
  struct w2 b = {BIG, 5}, r2 = {0, 0};
  void *av2[1] = {&b};
  ffi_call(&cif, FFI_FN(scale_w2), &r2, av2);
  CHECK_128(r2.v, BIG * 5);
  CHECK(r2.k == -5);
}

static void test_closure(void) {
  void *code = NULL;
  ffi_closure *w = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(w != NULL && code != NULL);
  if (w == NULL || code == NULL)
    return;
  ffi_cif cif;
  ffi_type *t[3] = {&ffi_type_sint128, &ffi_type_uint128, &ffi_type_sint};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_sint128, t) == FFI_OK);
  CHECK(ffi_prep_closure_loc(w, &cif, cb, NULL, code) == FFI_OK);
  i128 r = ((i128(*)(i128, u128, int))code)(BIG, 7, 3);
  CHECK_128(r, BIG - 21);
  ffi_closure_free(w);
}

int main(void) {
  test_types();
  test_calls();
  test_structs();
  test_closure();
  return finish("int128");
}
