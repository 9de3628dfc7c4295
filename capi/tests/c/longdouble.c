/* longdouble.c: long double (x87 80-bit) arguments and returns.
 *
 * Checks:
 *   - ffi_type_longdouble is 16 bytes, 16-aligned (i386: 12 bytes, 4-aligned), FFI_TYPE_LONGDOUBLE;
 *   - calls passing long double (always in memory) mixed with int, double and float
 *     arguments, and returning long double (st0) with full 64-bit-mantissa precision;
 *   - ten long double arguments; a struct { long double; int } (X87 class: memory) passed
 *     and returned; the layout of struct { char; long double } (size 32, offset 16; i386 16, 4);
 *   - rvalue == NULL for a long double return pops the x87 stack: after 20 such calls x87
 *     arithmetic still works (a leaked st0 would overflow the 8-entry stack). libffi >= 3.7
 *     headers only: libffi 3.4.4 leaks st0 there;
 *   - closures taking and returning long double, called from C and through ffi_call.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stddef.h>
#include <stdio.h>

#include "check.h"

#define CHECK_LD(got, want) check_ld(__FILE__, __LINE__, #got, (got), (want))
static void check_ld(const char *file, int line, const char *expr, long double got,
                     long double want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s: got %.21Lg, want %.21Lg\n", file, line, expr, got, want);
    failures++;
  }
}

/* 1/3 in long double: not representable as a double, so a round trip through double shows. */
static const long double THIRD = 1.0L / 3;

/* ---- Callees ---- */

static long double add(long double a, long double b) { return a + b; }
static long double mix(int a, long double b, double c, long double d, float e) {
  return a + b * 2 + c * 4 + d * 8 + e * 16;
}
static long double ten(long double a, long double b, long double c, long double d, long double e,
                       long double f, long double g, long double h, long double i, long double j) {
  return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}
struct ldi { long double x; int n; };
static ffi_type *ldi_el[] = {&ffi_type_longdouble, &ffi_type_sint, NULL};
static ffi_type ldi_t = {0, 0, FFI_TYPE_STRUCT, ldi_el};
static struct ldi twice(struct ldi v, int k) {
  struct ldi r = {v.x * 2, v.n * k};
  return r;
}
struct cld { char c; long double ld; };
static ffi_type *cld_el[] = {&ffi_type_schar, &ffi_type_longdouble, NULL};
static ffi_type cld_t = {0, 0, FFI_TYPE_STRUCT, cld_el};

static int discarded;
static long double discard_me(void) { discarded++; return THIRD; }

/* Closure: (long double a, int k, long double b) -> a * k + b. */
static void cb(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(long double *)ret = *(long double *)args[0] * *(int *)args[1] + *(long double *)args[2];
}

/* ---- Tests ---- */

static void test_calls(void) {
#if defined(__x86_64__) || defined(__aarch64__)
  CHECK(ffi_type_longdouble.size == 16 && ffi_type_longdouble.alignment == 16);
#else /* i386: 12 bytes, 4-aligned */
  CHECK(ffi_type_longdouble.size == 12 && ffi_type_longdouble.alignment == 4);
#endif
  CHECK(ffi_type_longdouble.type == FFI_TYPE_LONGDOUBLE);

  ffi_cif cif;
  ffi_type *t2[2] = {&ffi_type_longdouble, &ffi_type_longdouble};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_longdouble, t2) == FFI_OK);
  long double a = THIRD, b = 1e-4000L, r = 0;
  void *av2[2] = {&a, &b};
  ffi_call(&cif, FFI_FN(add), &r, av2);
  CHECK_LD(r, add(a, b));
  CHECK(r != (long double)(double)r); /* precision beyond double survived */

  ffi_type *t5[5] = {&ffi_type_sint, &ffi_type_longdouble, &ffi_type_double,
                     &ffi_type_longdouble, &ffi_type_float};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 5, &ffi_type_longdouble, t5) == FFI_OK);
  int i = 3;
  double c = 0.1;
  long double d = -THIRD;
  float e = 0.5f;
  void *av5[5] = {&i, &a, &c, &d, &e};
  r = 0;
  ffi_call(&cif, FFI_FN(mix), &r, av5);
  CHECK_LD(r, mix(i, a, c, d, e));

  ffi_type *t10[10];
  long double v[10];
  void *av10[10];
  for (int k = 0; k < 10; k++) {
    t10[k] = &ffi_type_longdouble;
    v[k] = THIRD * (k + 1) - k;
    av10[k] = &v[k];
  }
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 10, &ffi_type_longdouble, t10) == FFI_OK);
  r = 0;
  ffi_call(&cif, FFI_FN(ten), &r, av10);
  CHECK_LD(r, ten(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]));
}

static void test_structs(void) {
  ffi_cif cif;
  ffi_type *t[2] = {&ldi_t, &ffi_type_sint};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ldi_t, t) == FFI_OK);
  CHECK(ldi_t.size == sizeof(struct ldi) && ldi_t.alignment == _Alignof(struct ldi));
  struct ldi x = {THIRD, 21}, r = {0, 0};
  int k = -2;
  void *av[2] = {&x, &k};
  ffi_call(&cif, FFI_FN(twice), &r, av);
  CHECK_LD(r.x, THIRD * 2);
  CHECK(r.n == -42);

  size_t offs[2] = {99, 99};
  CHECK(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &cld_t, offs) == FFI_OK);
  CHECK(cld_t.size == sizeof(struct cld));
  CHECK(cld_t.alignment == _Alignof(struct cld));
  CHECK(offs[0] == 0 && offs[1] == offsetof(struct cld, ld));
#if defined(__x86_64__) || defined(__aarch64__)
  CHECK(cld_t.size == 32 && cld_t.alignment == 16 && offs[1] == 16);
#else
  CHECK(cld_t.size == 16 && cld_t.alignment == 4 && offs[1] == 4);
#endif
}

/* libffi 3.4.4 leaves the result on the x87 stack when rvalue is NULL; 3.7 made a NULL
 * rvalue discard any result. */
#if defined(FFI_VERSION_NUMBER) && FFI_VERSION_NUMBER >= 30700
static void test_null_rvalue(void) {
  ffi_cif cif;
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_longdouble, NULL) == FFI_OK);
  for (int k = 0; k < 20; k++)
    ffi_call(&cif, FFI_FN(discard_me), NULL, NULL);
  CHECK(discarded == 20);
  /* The x87 stack must still be usable. */
  volatile long double x = THIRD;
  long double y = x * 3 + x * x;
  CHECK_LD(y, THIRD * 3 + THIRD * THIRD);
  long double r = 0;
  ffi_call(&cif, FFI_FN(discard_me), &r, NULL);
  CHECK_LD(r, THIRD);
}
#else
static void test_null_rvalue(void) { (void)discard_me; }
#endif

static void test_closure(void) {
  void *code = NULL;
  ffi_closure *w = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(w != NULL && code != NULL);
  if (w == NULL || code == NULL)
    return;
  ffi_cif cif;
  ffi_type *t[3] = {&ffi_type_longdouble, &ffi_type_sint, &ffi_type_longdouble};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_longdouble, t) == FFI_OK);
  CHECK(ffi_prep_closure_loc(w, &cif, cb, NULL, code) == FFI_OK);
  long double (*fn)(long double, int, long double) = (long double (*)(long double, int, long double))code;
  CHECK_LD(fn(THIRD, 3, 1e-30L), THIRD * 3 + 1e-30L);
  /* Several in a row: the closure's return leaves the x87 stack balanced. */
  long double acc = 0;
  for (int k = 0; k < 20; k++)
    acc += fn(THIRD, k, 0);
  long double want = 0;
  for (int k = 0; k < 20; k++)
    want += THIRD * k;
  CHECK_LD(acc, want);
  long double a = -THIRD, b = 2, r = 0;
  int k = 6;
  void *av[3] = {&a, &k, &b};
  ffi_call(&cif, FFI_FN(code), &r, av);
  CHECK_LD(r, -THIRD * 6 + 2);
  ffi_closure_free(w);
}

int main(void) {
  test_calls();
  test_structs();
  test_null_rvalue();
  test_closure();
  return finish("longdouble");
}
