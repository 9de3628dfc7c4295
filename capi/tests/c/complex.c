/* complex.c: _Complex float, double and long double through ffi_call and closures.
 *
 * Checks:
 *   - the complex type objects (size, alignment, FFI_TYPE_COMPLEX, component element);
 *   - calls taking and returning complex float (one XMM register), complex double (two XMM
 *     registers) and complex long double (memory argument, x87 pair return), mixed with
 *     scalar arguments, and five complex doubles (the fifth does not fit in XMM registers);
 *   - closures taking and returning each complex type, called from C.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <complex.h>
#include <stdio.h>

#include "check.h"

/* Compares complex values (exactly: all values here are representable). */
#define CHECK_CPLX(got, want) check_cplx(__FILE__, __LINE__, #got, (got), (want))
static void check_cplx(const char *file, int line, const char *expr, long double _Complex got,
                       long double _Complex want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s: got %Lg%+Lgi, want %Lg%+Lgi\n", file, line, expr, creall(got),
            cimagl(got), creall(want), cimagl(want));
    failures++;
  }
}

/* ---- Callees ---- */

static float _Complex mul_f(float _Complex a, float _Complex b) { return a * b; }
static double _Complex mul_d(double _Complex a, double _Complex b) { return a * b; }
static long double _Complex add_ld(long double _Complex a, long double _Complex b) {
  return a + b;
}
static double _Complex mixed(int n, float _Complex f, double d, double _Complex z, long k) {
  return (double)n + f + d + z * (double)k;
}
static double _Complex five(double _Complex a, double _Complex b, double _Complex c,
                            double _Complex d, double _Complex e) {
  return a + 2 * b + 3 * c + 4 * d + 5 * e;
}

/* ---- Closure callbacks: conj(arg0) * arg1 ---- */

static void cb_f(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(float _Complex *)ret = conjf(*(float _Complex *)args[0]) * *(float _Complex *)args[1];
}
static void cb_d(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(double _Complex *)ret = conj(*(double _Complex *)args[0]) * *(double _Complex *)args[1];
}
static void cb_ld(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(long double _Complex *)ret =
      conjl(*(long double _Complex *)args[0]) + *(long double _Complex *)args[1];
}

/* ---- Tests ---- */

static void test_types(void) {
  CHECK(ffi_type_complex_float.size == 8 && ffi_type_complex_float.alignment == 4);
#if defined(__x86_64__) || defined(__aarch64__)
  CHECK(ffi_type_complex_double.size == 16 && ffi_type_complex_double.alignment == 8);
  CHECK(ffi_type_complex_longdouble.size == 32 && ffi_type_complex_longdouble.alignment == 16);
#elif defined(__arm__) /* long double is double: complex_longdouble is complex_double */
  CHECK(ffi_type_complex_double.size == 16 && ffi_type_complex_double.alignment == 8);
  CHECK(&ffi_type_complex_longdouble == &ffi_type_complex_double);
#else /* i386: double and long double are 4-aligned in aggregates, long double 12 bytes */
  CHECK(ffi_type_complex_double.size == 16 && ffi_type_complex_double.alignment == 4);
  CHECK(ffi_type_complex_longdouble.size == 24 && ffi_type_complex_longdouble.alignment == 4);
#endif
  CHECK(ffi_type_complex_float.type == FFI_TYPE_COMPLEX);
  CHECK(ffi_type_complex_double.type == FFI_TYPE_COMPLEX);
  CHECK(ffi_type_complex_longdouble.type == FFI_TYPE_COMPLEX);
}

/* Calls fn(a, b) where both arguments and the result have type t. */
static void call2(ffi_type *t, void (*fn)(void), void *ret, void *a, void *b) {
  ffi_cif cif;
  ffi_type *args[2] = {t, t};
  void *av[2] = {a, b};
  ffi_status st = ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, t, args);
  CHECK(st == FFI_OK);
  if (st == FFI_OK)
    ffi_call(&cif, fn, ret, av);
}

static void test_calls(void) {
  float _Complex fa = 1.0f + 2.0f * I, fb = 3.0f - 1.0f * I, fr = 0;
  call2(&ffi_type_complex_float, FFI_FN(mul_f), &fr, &fa, &fb);
  CHECK_CPLX(fr, mul_f(fa, fb));

  double _Complex da = 0.5 + 4.0 * I, db = -2.0 + 0.25 * I, dr = 0;
  call2(&ffi_type_complex_double, FFI_FN(mul_d), &dr, &da, &db);
  CHECK_CPLX(dr, mul_d(da, db));

  long double _Complex la = 1.0L / 3 + (2.0L / 3) * I, lb = 7.0L - 0.125L * I, lr = 0;
  call2(&ffi_type_complex_longdouble, FFI_FN(add_ld), &lr, &la, &lb);
  CHECK_CPLX(lr, add_ld(la, lb));

  ffi_cif cif;
  ffi_type *mt[5] = {&ffi_type_sint, &ffi_type_complex_float, &ffi_type_double,
                     &ffi_type_complex_double, &ffi_type_slong};
  int n = 3;
  double d = 0.5;
  long k = -2;
  void *mav[5] = {&n, &fa, &d, &da, &k};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 5, &ffi_type_complex_double, mt) == FFI_OK);
  dr = 0;
  ffi_call(&cif, FFI_FN(mixed), &dr, mav);
  CHECK_CPLX(dr, mixed(n, fa, d, da, k));

  ffi_type *ft[5];
  double _Complex z[5];
  void *fav[5];
  for (int i = 0; i < 5; i++) {
    ft[i] = &ffi_type_complex_double;
    z[i] = (i + 1) * 0.5 - (i + 2) * 0.25 * I;
    fav[i] = &z[i];
  }
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 5, &ffi_type_complex_double, ft) == FFI_OK);
  dr = 0;
  ffi_call(&cif, FFI_FN(five), &dr, fav);
  CHECK_CPLX(dr, five(z[0], z[1], z[2], z[3], z[4]));
}

/* Allocates a closure of signature t(t, t) and returns its code address (or NULL). */
static void *closure2(ffi_cif *cif, ffi_type **args, ffi_type *t,
                      void (*fun)(ffi_cif *, void *, void **, void *), ffi_closure **writable) {
  void *code = NULL;
  *writable = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(*writable != NULL && code != NULL);
  if (*writable == NULL || code == NULL)
    return NULL;
  args[0] = t;
  args[1] = t;
  CHECK(ffi_prep_cif(cif, FFI_DEFAULT_ABI, 2, t, args) == FFI_OK);
  CHECK(ffi_prep_closure_loc(*writable, cif, fun, NULL, code) == FFI_OK);
  return code;
}

static void test_closures(void) {
  ffi_cif cif;
  ffi_type *args[2];
  ffi_closure *w;
  void *code;

  code = closure2(&cif, args, &ffi_type_complex_float, cb_f, &w);
  if (code != NULL) {
    float _Complex a = 1.0f + 2.0f * I, b = 0.5f - 3.0f * I;
    float _Complex r = ((float _Complex(*)(float _Complex, float _Complex))code)(a, b);
    CHECK_CPLX(r, conjf(a) * b);
    ffi_closure_free(w);
  }
  code = closure2(&cif, args, &ffi_type_complex_double, cb_d, &w);
  if (code != NULL) {
    double _Complex a = -1.5 + 2.0 * I, b = 4.0 + 0.5 * I;
    double _Complex r = ((double _Complex(*)(double _Complex, double _Complex))code)(a, b);
    CHECK_CPLX(r, conj(a) * b);
    ffi_closure_free(w);
  }
  code = closure2(&cif, args, &ffi_type_complex_longdouble, cb_ld, &w);
  if (code != NULL) {
    long double _Complex a = 1.0L / 3 - 0.5L * I, b = 2.0L / 3 + 8.0L * I;
    long double _Complex r =
        ((long double _Complex(*)(long double _Complex, long double _Complex))code)(a, b);
    CHECK_CPLX(r, conjl(a) + b);
    ffi_closure_free(w);
  }
}

int main(void) {
  test_types();
  test_calls();
  test_closures();
  return finish("complex");
}
