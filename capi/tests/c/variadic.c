/* variadic.c: ffi_prep_cif_var and calls to C variadic functions.
 *
 * Checks:
 *   - snprintf called through ffi_prep_cif_var (3 fixed, several variadic arguments of
 *     int, double, string, long and pointer type) produces the same text as a direct call;
 *     also with no variadic arguments at all (nfixedargs == ntotalargs);
 *   - an own variadic function summing doubles, one summing longs, and one mixing both, with
 *     enough variadic arguments to spill to the stack (and %al set for the XMM count);
 *   - a struct passed as a variadic argument (read back with va_arg);
 *   - a float is fine as a fixed argument, but FFI_BAD_ARGTYPE as a variadic one, as are
 *     integers narrower than int (variadic arguments must be promoted).
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* size_t: 8 bytes on x86_64, 4 on i386. */
#define SIZE_T_TYPE (sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32)

/* ---- Variadic callees ---- */

/* Sum of n doubles, each weighted by its position. */
static double dsum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  double s = 0;
  for (int i = 0; i < n; i++)
    s += va_arg(ap, double) * (i + 1);
  va_end(ap);
  return s;
}

/* Sum of n longs, each weighted by its position. */
static long lsum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  long s = 0;
  for (int i = 0; i < n; i++)
    s += va_arg(ap, long) * (i + 1);
  va_end(ap);
  return s;
}

/* fmt is a string of 'i' (int), 'l' (long), 'd' (double), 'p' (pointer to long); returns a
 * weighted checksum of the values. */
static double mixed(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  double s = 0;
  for (int i = 0; fmt[i] != 0; i++) {
    double w = i + 1;
    switch (fmt[i]) {
    case 'i': s += va_arg(ap, int) * w; break;
    case 'l': s += (double)va_arg(ap, long) * w; break;
    case 'd': s += va_arg(ap, double) * w; break;
    case 'p': s += (double)*va_arg(ap, long *) * w; break;
    }
  }
  va_end(ap);
  return s;
}

/* SSE then INTEGER eightbyte. ({long, double} would hit libffi < 3.4.7's bug with a struct
 * whose first eightbyte is the sixth GPR argument, libffi PR #848; structs.c covers that.) */
struct pt { double y; long x; };
static ffi_type *pt_el[] = {&ffi_type_double, &ffi_type_slong, NULL};
static ffi_type pt_t = {0, 0, FFI_TYPE_STRUCT, pt_el};

/* n struct pt by value: sum of x*10 + y. */
static double ptsum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  double s = 0;
  for (int i = 0; i < n; i++) {
    struct pt p = va_arg(ap, struct pt);
    s += (double)p.x * 10 + p.y;
  }
  va_end(ap);
  return s;
}

/* A fixed float before the variadic part. */
static double fixed_float(float f, int n, ...) {
  va_list ap;
  va_start(ap, n);
  double s = f;
  for (int i = 0; i < n; i++)
    s += va_arg(ap, double);
  va_end(ap);
  return s;
}

/* ---- Tests ---- */

static void test_snprintf(void) {
  char got[128], want[128];
  char *buf = got;
  size_t size = sizeof got;
  const char *fmt = "%d|%.3f|%s|%ld|%p|%x|%g";
  int i = -42;
  double d = 3.14159;
  const char *s = "hello";
  long l = LONG_MAX / 7; /* more than 32 bits on x86_64 */
  void *p = &d;
  unsigned x = 0xBEEF;
  double g = 1e-5;
  ffi_type *t[10] = {&ffi_type_pointer, SIZE_T_TYPE   , &ffi_type_pointer,
                     &ffi_type_sint,    &ffi_type_double, &ffi_type_pointer,
                     &ffi_type_slong,   &ffi_type_pointer, &ffi_type_uint,
                     &ffi_type_double};
  void *av[10] = {&buf, &size, &fmt, &i, &d, &s, &l, &p, &x, &g};
  ffi_cif cif;
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 10, &ffi_type_sint, t), FFI_OK);
  CHECK_INT(cif.nargs, 10);
  ffi_arg rv = 0;
  memset(got, 0, sizeof got);
  ffi_call(&cif, FFI_FN(snprintf), &rv, av);
  int n = snprintf(want, sizeof want, fmt, i, d, s, l, p, x, g);
  CHECK_INT((int)rv, n);
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "snprintf through ffi: got \"%s\", want \"%s\"\n", got, want);
    failures++;
  }

  /* No variadic arguments. */
  const char *plain = "no conversions";
  void *pav[3] = {&buf, &size, &plain};
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 3, &ffi_type_sint, t), FFI_OK);
  memset(got, 0, sizeof got);
  rv = 0;
  ffi_call(&cif, FFI_FN(snprintf), &rv, pav);
  CHECK_INT((int)rv, (int)strlen(plain));
  CHECK(strcmp(got, plain) == 0);
}

static void test_own_variadics(void) {
  ffi_cif cif;
  ffi_type *t[16];
  void *av[16];

  /* 12 variadic doubles: 8 in XMM registers, 4 on the stack. */
  int n = 12;
  double dv[12];
  t[0] = &ffi_type_sint;
  av[0] = &n;
  for (int i = 0; i < 12; i++) {
    dv[i] = (i + 1) * 0.25;
    t[i + 1] = &ffi_type_double;
    av[i + 1] = &dv[i];
  }
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 13, &ffi_type_double, t), FFI_OK);
  double dr = 0;
  ffi_call(&cif, FFI_FN(dsum), &dr, av);
  CHECK(dr == dsum(12, dv[0], dv[1], dv[2], dv[3], dv[4], dv[5], dv[6], dv[7], dv[8], dv[9],
                   dv[10], dv[11]));

  /* 10 variadic longs: 5 in GPRs, 5 on the stack. */
  n = 10;
  long lv[10];
  for (int i = 0; i < 10; i++) {
    lv[i] = (i + 1) * -1000003L;
    t[i + 1] = &ffi_type_slong;
    av[i + 1] = &lv[i];
  }
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 11, &ffi_type_slong, t), FFI_OK);
  long lr = 0;
  ffi_call(&cif, FFI_FN(lsum), &lr, av);
  CHECK_INT(lr, lsum(10, lv[0], lv[1], lv[2], lv[3], lv[4], lv[5], lv[6], lv[7], lv[8], lv[9]));

  /* Mixed, 14 variadic values. */
  const char *fmt = "idldpidldpiddl";
  int i1 = -5, i2 = 6, i3 = 7;
  long l1 = LONG_MAX / 3, l2 = -3, l3 = 99;
  double d1 = 0.5, d2 = -1.5, d3 = 2.25, d4 = 1e10, d5 = -7.0;
  long pv1 = 11, pv2 = 12;
  long *p1 = &pv1, *p2 = &pv2;
  ffi_type *mt[15] = {&ffi_type_pointer, &ffi_type_sint,   &ffi_type_double, &ffi_type_slong,
                      &ffi_type_double,  &ffi_type_pointer, &ffi_type_sint,  &ffi_type_double,
                      &ffi_type_slong,   &ffi_type_double, &ffi_type_pointer, &ffi_type_sint,
                      &ffi_type_double,  &ffi_type_double, &ffi_type_slong};
  void *mav[15] = {&fmt, &i1, &d1, &l1, &d2, &p1, &i2, &d3, &l2, &d4, &p2, &i3, &d5, &d1, &l3};
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 15, &ffi_type_double, mt), FFI_OK);
  dr = 0;
  ffi_call(&cif, FFI_FN(mixed), &dr, mav);
  CHECK(dr == mixed(fmt, i1, d1, l1, d2, p1, i2, d3, l2, d4, p2, i3, d5, d1, l3));

  /* Structs as variadic arguments: five in registers, the last two on the stack. */
  n = 7;
  struct pt pts[7] = {{0.5, 1}, {0.25, 2}, {0.125, 3}, {1.5, 4}, {2.5, 5}, {3.5, 6}, {4.5, 7}};
  t[0] = &ffi_type_sint;
  av[0] = &n;
  for (int i = 0; i < 7; i++) {
    t[i + 1] = &pt_t;
    av[i + 1] = &pts[i];
  }
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 8, &ffi_type_double, t), FFI_OK);
  dr = 0;
  ffi_call(&cif, FFI_FN(ptsum), &dr, av);
  CHECK(dr == ptsum(7, pts[0], pts[1], pts[2], pts[3], pts[4], pts[5], pts[6]));

  /* A float among the fixed arguments is passed as a float. */
  float f = 0.75f;
  n = 2;
  double e1 = 1.0, e2 = 2.0;
  ffi_type *ft[4] = {&ffi_type_float, &ffi_type_sint, &ffi_type_double, &ffi_type_double};
  void *fav[4] = {&f, &n, &e1, &e2};
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 2, 4, &ffi_type_double, ft), FFI_OK);
  dr = 0;
  ffi_call(&cif, FFI_FN(fixed_float), &dr, fav);
  CHECK(dr == 3.75);
}

static void test_bad_variadic_types(void) {
  ffi_cif cif;
  ffi_type *tf[2] = {&ffi_type_sint, &ffi_type_float};
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_void, tf), FFI_BAD_ARGTYPE);
  /* The same float as a fixed argument is fine. */
  CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 2, 2, &ffi_type_void, tf), FFI_OK);

  ffi_type *narrow[4] = {&ffi_type_sint8, &ffi_type_uint8, &ffi_type_sint16, &ffi_type_uint16};
  for (int i = 0; i < 4; i++) {
    ffi_type *t[2] = {&ffi_type_sint, narrow[i]};
    ffi_status st = ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_void, t);
    if (st != FFI_BAD_ARGTYPE) {
      fprintf(stderr, "variadic integer type %u: got status %d, want FFI_BAD_ARGTYPE\n",
              narrow[i]->type, (int)st);
      failures++;
    }
  }
  /* int, unsigned, long, double and pointers are fine. */
  ffi_type *ok[5] = {&ffi_type_sint32, &ffi_type_uint32, &ffi_type_sint64, &ffi_type_double,
                     &ffi_type_pointer};
  for (int i = 0; i < 5; i++) {
    ffi_type *t[2] = {&ffi_type_sint, ok[i]};
    CHECK_INT(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_void, t), FFI_OK);
  }
}

int main(void) {
  test_snprintf();
  test_own_variadics();
  test_bad_variadic_types();
  return finish("variadic");
}
