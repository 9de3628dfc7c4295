/* scalars.c: ffi_call with every scalar type.
 *
 * Checks:
 *   - each integer type (u8..s64, and the char/short/int/long aliases), float, double and
 *     pointer as argument and as return value;
 *   - integral returns narrower than ffi_arg (64 bits; 32 on i386) fill the whole ffi_arg: zero-extended for
 *     unsigned types, sign-extended for signed ones (rvalue is pre-filled with garbage);
 *   - narrow integer arguments in registers reach the callee sign- or zero-extended to
 *     64 bits (i386: to their 32-bit stack slot; libffi's behaviour, on which clang-compiled callees rely for 32 bits);
 *   - a mixed signature whose integer and floating-point arguments overflow the six GPRs
 *     and eight XMM registers onto the stack;
 *   - rvalue == NULL discards the result of int, double, small and large struct returns;
 *   - void return; extreme values (INT64_MIN, UINT64_MAX, -0.0, denormals).
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Compares two 64-bit patterns and shows both on failure. */
#define CHECK_U64(got, want) check_u64(__FILE__, __LINE__, #got, (uint64_t)(got), (uint64_t)(want))
static void check_u64(const char *file, int line, const char *expr, uint64_t got, uint64_t want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s: got 0x%016llx, want 0x%016llx\n", file, line, expr,
            (unsigned long long)got, (unsigned long long)want);
    failures++;
  }
}

/* Compares two doubles bit for bit (all values here are exact). */
#define CHECK_DBL(got, want) check_dbl(__FILE__, __LINE__, #got, (got), (want))
static void check_dbl(const char *file, int line, const char *expr, double got, double want) {
  if (memcmp(&got, &want, sizeof got) != 0) {
    fprintf(stderr, "%s:%d: %s: got %a, want %a\n", file, line, expr, got, want);
    failures++;
  }
}

#define GARBAGE 0xA5A5A5A5A5A5A5A5ull

/* ---- Callees ---- */

static uint8_t ret_u8(uint8_t a) { return (uint8_t)(a + 1); }
static int8_t ret_s8(int8_t a) { return (int8_t)-a; }
static uint16_t ret_u16(uint16_t a) { return (uint16_t)(a + 1); }
static int16_t ret_s16(int16_t a) { return (int16_t)-a; }
static uint32_t ret_u32(uint32_t a) { return a + 1; }
static int32_t ret_s32(int32_t a) { return -a; }
static uint64_t ret_u64(uint64_t a) { return a + 1; }
static int64_t ret_s64(int64_t a) { return -a; }
static float ret_float(float a) { return a * 2.0f; }
static double ret_double(double a) { return a * 2.0; }
static void *ret_pointer(void *p) { return (char *)p + 1; }
static unsigned char ret_uchar(signed char a, short b) { return (unsigned char)(a + b); }
static long ret_long(unsigned int a, int b, unsigned long c) { return (long)a + b + (long)c; }

/* Sees the full registers (x86_64, aarch64) or 4-byte stack slots (i386): described to libffi as
 * taking narrow types. */
static uint64_t seen[6];
#if defined(__x86_64__) || defined(__aarch64__)
static void see_regs(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f) {
  seen[0] = a; seen[1] = b; seen[2] = c; seen[3] = d; seen[4] = e; seen[5] = f;
}
#else
static void see_regs(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, uint32_t f) {
  seen[0] = a; seen[1] = b; seen[2] = c; seen[3] = d; seen[4] = e; seen[5] = f;
}
#endif

/* 10 integers of every width and 10 floating-point values, interleaved: the 7th+ integers and
 * 9th+ floating-point values are passed on the stack. Records every value. */
struct mixed_seen {
  int8_t a; uint8_t b; int16_t c; uint16_t d; int32_t e; uint32_t f; int64_t g; uint64_t h;
  void *p; long i;
  float fa; double fb; float fc; double fd; float fe; double ff; float fg; double fh;
  float fi; double fj;
};
static struct mixed_seen mseen;
static double mixed(int8_t a, float fa, uint8_t b, double fb, int16_t c, float fc, uint16_t d,
                    double fd, int32_t e, float fe, uint32_t f, double ff, int64_t g, float fg,
                    uint64_t h, double fh, void *p, float fi, long i, double fj) {
  struct mixed_seen s = {a, b, c, d, e, f, g, h, p, i, fa, fb, fc, fd, fe, ff, fg, fh, fi, fj};
  mseen = s;
  return (double)a + b + c + d + e + f + (double)g + (double)h + (double)i + fa + fb + fc + fd +
         fe + ff + fg + fh + fi + fj;
}

static int void_called;
static void ret_void(int x) { void_called = x; }

/* Set by the rvalue == NULL callees so the test knows they ran. */
static int discarded_calls;
static int disc_int(void) { discarded_calls++; return 42; }
static double disc_double(void) { discarded_calls++; return 4.5; }
struct small { int a, b; };
static struct small disc_small(void) { discarded_calls++; struct small s = {1, 2}; return s; }
struct large { long a, b, c, d, e; };
static struct large disc_large(void) {
  discarded_calls++;
  struct large l = {1, 2, 3, 4, 5};
  return l;
}

/* ---- Helpers ---- */

/* Calls fn(arg) for a one-argument signature; rvalue (8 bytes: room for a 64-bit result
 * where ffi_arg is 4 bytes, on i386) is pre-filled with GARBAGE. Returns the whole buffer
 * for a result wider than ffi_arg, else the ffi_arg at its start (zero-extended). */
static uint64_t call1(ffi_type *rtype, ffi_type *atype, void (*fn)(void), void *arg) {
  ffi_cif cif;
  ffi_type *args[1] = {atype};
  uint64_t rv = GARBAGE;
  ffi_status st = ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, rtype, args);
  CHECK(st == FFI_OK);
  if (st != FFI_OK)
    return 0;
  void *avalue[1] = {arg};
  ffi_call(&cif, fn, &rv, avalue);
  if (rtype->size > sizeof(ffi_arg))
    return rv;
  ffi_arg narrow;
  memcpy(&narrow, &rv, sizeof narrow);
  return narrow;
}

static void test_integer_returns(void) {
  uint8_t u8 = 0xFE;
  CHECK_U64(call1(&ffi_type_uint8, &ffi_type_uint8, FFI_FN(ret_u8), &u8), 0xFF);
  u8 = 0x7F;
  CHECK_U64(call1(&ffi_type_uint8, &ffi_type_uint8, FFI_FN(ret_u8), &u8), 0x80);
  int8_t s8 = 5;
  CHECK_U64(call1(&ffi_type_sint8, &ffi_type_sint8, FFI_FN(ret_s8), &s8), (ffi_arg)-5);
  s8 = -128 + 1;
  CHECK_U64(call1(&ffi_type_sint8, &ffi_type_sint8, FFI_FN(ret_s8), &s8), 127);
  uint16_t u16 = 0xFFFE;
  CHECK_U64(call1(&ffi_type_uint16, &ffi_type_uint16, FFI_FN(ret_u16), &u16), 0xFFFF);
  int16_t s16 = 300;
  CHECK_U64(call1(&ffi_type_sint16, &ffi_type_sint16, FFI_FN(ret_s16), &s16), (ffi_arg)-300);
  uint32_t u32 = 0xFFFFFFF0u;
  CHECK_U64(call1(&ffi_type_uint32, &ffi_type_uint32, FFI_FN(ret_u32), &u32), 0xFFFFFFF1u);
  int32_t s32 = 7;
  CHECK_U64(call1(&ffi_type_sint32, &ffi_type_sint32, FFI_FN(ret_s32), &s32), (ffi_arg)-7);
  s32 = INT32_MIN + 1;
  CHECK_U64(call1(&ffi_type_sint32, &ffi_type_sint32, FFI_FN(ret_s32), &s32), INT32_MAX);
  uint64_t u64 = UINT64_MAX - 1;
  CHECK_U64(call1(&ffi_type_uint64, &ffi_type_uint64, FFI_FN(ret_u64), &u64), UINT64_MAX);
  int64_t s64 = INT64_MAX;
  CHECK_U64(call1(&ffi_type_sint64, &ffi_type_sint64, FFI_FN(ret_s64), &s64), (uint64_t)-INT64_MAX);

  /* The ffi_sarg view of a signed narrow return. */
  s16 = 1;
  CHECK((ffi_sarg)(ffi_arg)call1(&ffi_type_sint16, &ffi_type_sint16, FFI_FN(ret_s16), &s16) == -1);

  /* Pointer. */
  char buf[4];
  void *p = buf;
  CHECK_U64(call1(&ffi_type_pointer, &ffi_type_pointer, FFI_FN(ret_pointer), &p),
            (uintptr_t)(buf + 1));

  /* The C-name aliases. */
  ffi_cif cif;
  ffi_type *args2[2] = {&ffi_type_schar, &ffi_type_sshort};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_uchar, args2) == FFI_OK);
  signed char sc = -1;
  short sh = 0x100;
  void *av2[2] = {&sc, &sh};
  ffi_arg rv = (ffi_arg)GARBAGE;
  ffi_call(&cif, FFI_FN(ret_uchar), &rv, av2);
  CHECK_U64(rv, 0xFF);

  ffi_type *args3[3] = {&ffi_type_uint, &ffi_type_sint, &ffi_type_ulong};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_slong, args3) == FFI_OK);
  unsigned int ui = 1;
  int si = -3;
  unsigned long ul = 1;
  void *av3[3] = {&ui, &si, &ul};
  long lv = 0;
  ffi_call(&cif, FFI_FN(ret_long), &lv, av3);
  CHECK_INT(lv, -1);
}

static void test_float_returns(void) {
  ffi_cif cif;
  ffi_type *fargs[1] = {&ffi_type_float};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_float, fargs) == FFI_OK);
  float f = 1.25f, fr = 0;
  void *fav[1] = {&f};
  ffi_call(&cif, FFI_FN(ret_float), &fr, fav);
  CHECK_DBL(fr, 2.5);
  f = -0.0f;
  ffi_call(&cif, FFI_FN(ret_float), &fr, fav);
  CHECK(fr == 0.0f && signbit(fr));
  f = FLT_MIN / 4; /* a denormal */
  ffi_call(&cif, FFI_FN(ret_float), &fr, fav);
  CHECK_DBL(fr, FLT_MIN / 2);

  ffi_type *dargs[1] = {&ffi_type_double};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_double, dargs) == FFI_OK);
  double d = 1e300, dr = 0;
  void *dav[1] = {&d};
  ffi_call(&cif, FFI_FN(ret_double), &dr, dav);
  CHECK_DBL(dr, 2e300);
  d = -3.0;
  ffi_call(&cif, FFI_FN(ret_double), &dr, dav);
  CHECK_DBL(dr, -6.0);
}

/* Narrow integer arguments arrive extended to 64 bits in their registers (i386: to 32 bits
 * in their stack slots). */
static void test_argument_extension(void) {
  ffi_cif cif;
  ffi_type *args[6] = {&ffi_type_sint8, &ffi_type_uint8, &ffi_type_sint16,
                       &ffi_type_uint16, &ffi_type_sint32, &ffi_type_uint32};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 6, &ffi_type_void, args) == FFI_OK);
  int8_t a = -2;
  uint8_t b = 0xFE;
  int16_t c = -3;
  uint16_t d = 0xFFFD;
  int32_t e = -4;
  uint32_t f = 0xFFFFFFFCu;
  void *av[6] = {&a, &b, &c, &d, &e, &f};
  ffi_call(&cif, FFI_FN(see_regs), NULL, av);
  /* At least the low 32 bits are a proper extension (what clang-compiled code relies on). */
  CHECK_U64((uint32_t)seen[0], (uint32_t)-2);
  CHECK_U64((uint32_t)seen[1], 0xFE);
  CHECK_U64((uint32_t)seen[2], (uint32_t)-3);
  CHECK_U64((uint32_t)seen[3], 0xFFFD);
  CHECK_U64((uint32_t)seen[4], (uint32_t)-4);
  CHECK_U64((uint32_t)seen[5], 0xFFFFFFFCu);
  /* libffi extends to the whole register (x86_64) or stack slot (i386: ffi_arg). */
  CHECK_U64(seen[0], (ffi_arg)-2);
  CHECK_U64(seen[1], 0xFE);
  CHECK_U64(seen[2], (ffi_arg)-3);
  CHECK_U64(seen[3], 0xFFFD);
  CHECK_U64(seen[4], (ffi_arg)-4);
  CHECK_U64(seen[5], 0xFFFFFFFCu);
}

static void test_mixed_stack(void) {
  ffi_type *args[20] = {
      &ffi_type_sint8,  &ffi_type_float,   &ffi_type_uint8,  &ffi_type_double,
      &ffi_type_sint16, &ffi_type_float,   &ffi_type_uint16, &ffi_type_double,
      &ffi_type_sint32, &ffi_type_float,   &ffi_type_uint32, &ffi_type_double,
      &ffi_type_sint64, &ffi_type_float,   &ffi_type_uint64, &ffi_type_double,
      &ffi_type_pointer, &ffi_type_float,  &ffi_type_slong,  &ffi_type_double};
  ffi_cif cif;
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 20, &ffi_type_double, args) == FFI_OK);
  int8_t a = -1;
  uint8_t b = 200;
  int16_t c = -300;
  uint16_t d = 60000;
  int32_t e = -70000;
  uint32_t f = 4000000000u;
  int64_t g = -5000000000;
  uint64_t h = 6000000000u;
  void *p = &cif;
  long i = -7;
  float fa = 0.5f, fc = 1.5f, fe = 2.5f, fg = 3.5f, fi = 4.5f;
  double fb = 0.25, fd = 1.25, ff = 2.25, fh = 3.25, fj = 4.25;
  void *av[20] = {&a, &fa, &b, &fb, &c, &fc, &d, &fd, &e, &fe,
                  &f, &ff, &g, &fg, &h, &fh, &p, &fi, &i, &fj};
  double rv = 0;
  ffi_call(&cif, FFI_FN(mixed), &rv, av);
  CHECK(mseen.a == a && mseen.b == b && mseen.c == c && mseen.d == d);
  CHECK(mseen.e == e && mseen.f == f && mseen.g == g && mseen.h == h);
  CHECK(mseen.p == p && mseen.i == i);
  CHECK(mseen.fa == fa && mseen.fc == fc && mseen.fe == fe && mseen.fg == fg && mseen.fi == fi);
  CHECK(mseen.fb == fb && mseen.fd == fd && mseen.ff == ff && mseen.fh == fh && mseen.fj == fj);
  CHECK_DBL(rv, mixed(a, fa, b, fb, c, fc, d, fd, e, fe, f, ff, g, fg, h, fh, p, fi, i, fj));
}

static void test_void_and_null_rvalue(void) {
  ffi_cif cif;
  ffi_type *iarg[1] = {&ffi_type_sint32};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, iarg) == FFI_OK);
  int x = 17;
  void *av[1] = {&x};
  ffi_arg rv = (ffi_arg)GARBAGE;
  ffi_call(&cif, FFI_FN(ret_void), &rv, av);
  CHECK(void_called == 17);

  /* rvalue == NULL: the call happens and the result is dropped. */
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_sint32, NULL) == FFI_OK);
  ffi_call(&cif, FFI_FN(disc_int), NULL, NULL);
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_double, NULL) == FFI_OK);
  ffi_call(&cif, FFI_FN(disc_double), NULL, NULL);

  ffi_type *small_el[3] = {&ffi_type_sint32, &ffi_type_sint32, NULL};
  ffi_type small_t = {0, 0, FFI_TYPE_STRUCT, small_el};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &small_t, NULL) == FFI_OK);
  ffi_call(&cif, FFI_FN(disc_small), NULL, NULL);

  ffi_type *large_el[6] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                           &ffi_type_slong, &ffi_type_slong, NULL};
  ffi_type large_t = {0, 0, FFI_TYPE_STRUCT, large_el};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &large_t, NULL) == FFI_OK);
  ffi_call(&cif, FFI_FN(disc_large), NULL, NULL);
  CHECK(discarded_calls == 4);
}

int main(void) {
  test_integer_returns();
  test_float_returns();
  test_argument_extension();
  test_mixed_stack();
  test_void_and_null_rvalue();
  return finish("scalars");
}
