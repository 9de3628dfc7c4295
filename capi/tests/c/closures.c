/* closures.c: ffi_closure_alloc, ffi_prep_closure_loc, ffi_closure_free.
 *
 * Checks:
 *   - ffi_closure_alloc returns a writable address and a code address (both non-NULL);
 *     after ffi_prep_closure_loc the closure's cif, fun and user_data fields read back;
 *   - a closure called from C through the code address receives its arguments and
 *     user_data, and its result reaches the caller: integers of every width (the callback
 *     writes a whole ffi_arg, the C caller sees the narrow type), float, double, pointer,
 *     void;
 *   - 20 interleaved integer and floating-point arguments (stack spill in the callee's
 *     frame) arrive intact;
 *   - struct arguments and returns: 3-byte, 8-byte float pair, 16-byte mixed, 32-byte
 *     (memory / sret) and a struct that spills to the stack after the GPRs run out;
 *   - a closure called back through ffi_call (round trip) with widened returns;
 *   - several live closures with their own user_data, freed in any order; 2000 live at
 *     once, freed and allocated again; a larger allocation whose extra bytes belong to the
 *     program; the deprecated ffi_prep_closure (called through the code address, as libffi
 *     allows on x86_64);
 *   - a callback that itself calls another closure (through ffi_call and directly);
 *   - four threads calling one shared closure while each allocates, calls and frees
 *     closures of its own.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

typedef void (*ffi_fun)(ffi_cif *, void *, void **, void *);

/* A prepared closure: its cif and argument types live with it. */
struct made {
  ffi_cif cif;
  ffi_type *args[24];
  ffi_closure *writable;
  void *code;
};

/* Allocates and prepares a closure; returns 0 (and records a failure) if anything fails. */
static int make(struct made *m, ffi_type *rtype, unsigned nargs, ffi_type **atypes, ffi_fun fun,
                void *user_data) {
  if (nargs != 0)
    memcpy(m->args, atypes, nargs * sizeof *atypes);
  m->code = NULL;
  m->writable = ffi_closure_alloc(sizeof(ffi_closure), &m->code);
  CHECK(m->writable != NULL);
  CHECK(m->code != NULL);
  if (m->writable == NULL || m->code == NULL)
    return 0;
  ffi_status st = ffi_prep_cif(&m->cif, FFI_DEFAULT_ABI, nargs, rtype, m->args);
  CHECK_INT(st, FFI_OK);
  if (st != FFI_OK)
    return 0;
  st = ffi_prep_closure_loc(m->writable, &m->cif, fun, user_data, m->code);
  CHECK_INT(st, FFI_OK);
  if (st != FFI_OK)
    return 0;
  CHECK(m->writable->cif == &m->cif);
  CHECK(m->writable->fun == fun);
  CHECK(m->writable->user_data == user_data);
  return 1;
}

/* ---- Callbacks ---- */

/* int (int, int): a + b + *(int *)user_data; checks its own cif. */
static void cb_add(ffi_cif *cif, void *ret, void **args, void *ud) {
  CHECK_INT(cif->nargs, 2);
  *(ffi_arg *)ret = (ffi_arg)(ffi_sarg)(*(int *)args[0] + *(int *)args[1] + *(int *)ud);
}

/* Narrow returns: user_data holds the value to return, written as a whole ffi_arg. */
static void cb_ret_sarg(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)args;
  *(ffi_sarg *)ret = *(ffi_sarg *)ud;
}
static void cb_ret_uarg(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)args;
  *(ffi_arg *)ret = *(ffi_arg *)ud;
}
/* A 64-bit return: a whole uint64_t (wider than ffi_arg on i386). */
static void cb_ret_u64(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)args;
  *(uint64_t *)ret = *(uint64_t *)ud;
}
static void cb_ret_float(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(float *)ret = *(float *)args[0] * 4.0f;
}
static void cb_ret_double(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(double *)ret = *(double *)args[0] + *(float *)args[1];
}
static void cb_ret_pointer(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(void **)ret = (char *)*(void **)args[0] + 3;
}
static int void_seen;
static void cb_void(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ret; (void)args;
  void_seen = ud == NULL ? -1 : 1;
}

/* Narrow integer arguments: returns a checksum of all six. */
static void cb_narrow_args(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  int8_t a = *(int8_t *)args[0];
  uint8_t b = *(uint8_t *)args[1];
  int16_t c = *(int16_t *)args[2];
  uint16_t d = *(uint16_t *)args[3];
  int32_t e = *(int32_t *)args[4];
  uint32_t f = *(uint32_t *)args[5];
  CHECK(a == -1 && b == 255 && c == -1000 && d == 65000 && e == -100000 && f == 4000000000u);
  *(int64_t *)ret = a + b + c + d + e + (int64_t)f;
}

/* 20 arguments: long a0..a9 interleaved with double d0..d9 (a, d, a, d, ...). */
static void cb_many(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)ud;
  double sum = 0;
  int ok = cif->nargs == 20;
  for (int i = 0; i < 10; i++) {
    long a = *(long *)args[2 * i];
    double d = *(double *)args[2 * i + 1];
    ok &= a == (long)(i + 1) * -1000 && d == (i + 1) * 0.5;
    sum += (double)a * (i + 1) + d;
  }
  CHECK(ok);
  *(double *)ret = sum;
}
typedef double (*many_fn)(long, double, long, double, long, double, long, double, long, double,
                          long, double, long, double, long, double, long, double, long, double);

/* ---- Structs ---- */

struct s3c { char a, b, c; };
static ffi_type *s3c_el[] = {&ffi_type_schar, &ffi_type_schar, &ffi_type_schar, NULL};
static ffi_type s3c_t = {0, 0, FFI_TYPE_STRUCT, s3c_el};
struct ff { float a, b; };
static ffi_type *ff_el[] = {&ffi_type_float, &ffi_type_float, NULL};
static ffi_type ff_t = {0, 0, FFI_TYPE_STRUCT, ff_el};
struct fid { float f; int i; double d; };
static ffi_type *fid_el[] = {&ffi_type_float, &ffi_type_sint, &ffi_type_double, NULL};
static ffi_type fid_t = {0, 0, FFI_TYPE_STRUCT, fid_el};
struct big { long a, b, c; double d; };
static ffi_type *big_el[] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                             &ffi_type_double, NULL};
static ffi_type big_t = {0, 0, FFI_TYPE_STRUCT, big_el};
struct ll { long a, b; };
static ffi_type *ll_el[] = {&ffi_type_slong, &ffi_type_slong, NULL};
static ffi_type ll_t = {0, 0, FFI_TYPE_STRUCT, ll_el};

/* struct s3c (struct s3c): each byte + 1. */
static void cb_s3c(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  struct s3c x = *(struct s3c *)args[0];
  struct s3c r = {(char)(x.a + 1), (char)(x.b + 1), (char)(x.c + 1)};
  *(struct s3c *)ret = r;
}
/* struct ff (struct ff, struct fid): swaps the floats, adds fid.i. */
static void cb_ff(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  struct ff x = *(struct ff *)args[0];
  struct fid y = *(struct fid *)args[1];
  CHECK(y.f == 0.5f && y.i == 3 && y.d == 0.25);
  struct ff r = {x.b + (float)y.i, x.a + (float)y.i};
  *(struct ff *)ret = r;
}
/* struct big (int, struct big, struct fid): memory argument and sret return. */
static void cb_big(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  int k = *(int *)args[0];
  struct big x = *(struct big *)args[1];
  struct fid y = *(struct fid *)args[2];
  struct big r = {x.a + k, x.b + k, x.c + k, x.d + y.d};
  *(struct big *)ret = r;
}
/* struct fid (long, struct ll, struct ll, struct ll, long): the third struct is on the stack
 * and the last long in r9. */
static void cb_spill(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  long x = *(long *)args[0], y = *(long *)args[4];
  struct ll a = *(struct ll *)args[1], b = *(struct ll *)args[2], c = *(struct ll *)args[3];
  struct fid r = {(float)(a.a + a.b), (int)(b.a + b.b), (double)(c.a + c.b + x + y)};
  *(struct fid *)ret = r;
}

/* ---- Tests ---- */

static void test_basic(void) {
  int bias = 100;
  struct made m;
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  if (!make(&m, &ffi_type_sint, 2, a, cb_add, &bias))
    return;
  int (*fn)(int, int) = (int (*)(int, int))m.code;
  CHECK_INT(fn(1, 2), 103);
  CHECK_INT(fn(-50, -60), -10);
  bias = -1; /* user_data is a pointer: the closure sees the change */
  CHECK_INT(fn(0, 0), -1);
  ffi_closure_free(m.writable);
}

static void test_narrow_returns(void) {
  struct made m;
  ffi_sarg s = -3;
  if (make(&m, &ffi_type_sint8, 0, NULL, cb_ret_sarg, &s)) {
    CHECK_INT(((int8_t(*)(void))m.code)(), -3);
    /* Round trip through ffi_call: the widened value. */
    ffi_arg rv = 0;
    ffi_call(&m.cif, FFI_FN(m.code), &rv, NULL);
    CHECK_INT((ffi_sarg)rv, -3);
    ffi_closure_free(m.writable);
  }
  s = -30000;
  if (make(&m, &ffi_type_sint16, 0, NULL, cb_ret_sarg, &s)) {
    CHECK_INT(((int16_t(*)(void))m.code)(), -30000);
    ffi_closure_free(m.writable);
  }
  s = INT32_MIN;
  if (make(&m, &ffi_type_sint32, 0, NULL, cb_ret_sarg, &s)) {
    CHECK_INT(((int32_t(*)(void))m.code)(), INT32_MIN);
    ffi_arg rv = 0;
    ffi_call(&m.cif, FFI_FN(m.code), &rv, NULL);
    CHECK_INT((ffi_sarg)rv, INT32_MIN);
    ffi_closure_free(m.writable);
  }
  ffi_arg u = 0xFF;
  if (make(&m, &ffi_type_uint8, 0, NULL, cb_ret_uarg, &u)) {
    CHECK_INT(((uint8_t(*)(void))m.code)(), 0xFF);
    ffi_arg rv = 0;
    ffi_call(&m.cif, FFI_FN(m.code), &rv, NULL);
    CHECK_INT(rv, 0xFF);
    ffi_closure_free(m.writable);
  }
  u = 0xFFFF;
  if (make(&m, &ffi_type_uint16, 0, NULL, cb_ret_uarg, &u)) {
    CHECK_INT(((uint16_t(*)(void))m.code)(), 0xFFFF);
    ffi_closure_free(m.writable);
  }
  u = 0xFFFFFFFFu;
  if (make(&m, &ffi_type_uint32, 0, NULL, cb_ret_uarg, &u)) {
    CHECK_INT(((uint32_t(*)(void))m.code)(), 0xFFFFFFFFu);
    ffi_arg rv = 0;
    ffi_call(&m.cif, FFI_FN(m.code), &rv, NULL);
    CHECK_INT(rv, 0xFFFFFFFFu);
    ffi_closure_free(m.writable);
  }
  uint64_t u64 = 0x8000000000000001ull;
  if (make(&m, &ffi_type_uint64, 0, NULL, cb_ret_u64, &u64)) {
    CHECK(((uint64_t(*)(void))m.code)() == 0x8000000000000001ull);
    ffi_closure_free(m.writable);
  }
}

static void test_scalar_kinds(void) {
  struct made m;
  ffi_type *f1[1] = {&ffi_type_float};
  if (make(&m, &ffi_type_float, 1, f1, cb_ret_float, NULL)) {
    CHECK(((float (*)(float))m.code)(1.25f) == 5.0f);
    ffi_closure_free(m.writable);
  }
  ffi_type *df[2] = {&ffi_type_double, &ffi_type_float};
  if (make(&m, &ffi_type_double, 2, df, cb_ret_double, NULL)) {
    CHECK(((double (*)(double, float))m.code)(1e100, 0.5f) == 1e100 + 0.5);
    CHECK(((double (*)(double, float))m.code)(-2.0, 0.25f) == -1.75);
    ffi_closure_free(m.writable);
  }
  ffi_type *p1[1] = {&ffi_type_pointer};
  if (make(&m, &ffi_type_pointer, 1, p1, cb_ret_pointer, NULL)) {
    char buf[8];
    CHECK(((char *(*)(char *))m.code)(buf) == buf + 3);
    ffi_closure_free(m.writable);
  }
  if (make(&m, &ffi_type_void, 0, NULL, cb_void, NULL)) {
    ((void (*)(void))m.code)();
    CHECK_INT(void_seen, -1);
    ffi_closure_free(m.writable);
  }
  ffi_type *n6[6] = {&ffi_type_sint8, &ffi_type_uint8, &ffi_type_sint16,
                     &ffi_type_uint16, &ffi_type_sint32, &ffi_type_uint32};
  if (make(&m, &ffi_type_sint64, 6, n6, cb_narrow_args, NULL)) {
    int64_t r = ((int64_t(*)(int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t))m.code)(
        -1, 255, -1000, 65000, -100000, 4000000000u);
    CHECK_INT(r, -1 + 255 - 1000 + 65000 - 100000 + 4000000000ll);
    ffi_closure_free(m.writable);
  }
}

static void test_many_args(void) {
  struct made m;
  ffi_type *t[20];
  for (int i = 0; i < 10; i++) {
    t[2 * i] = &ffi_type_slong;
    t[2 * i + 1] = &ffi_type_double;
  }
  if (!make(&m, &ffi_type_double, 20, t, cb_many, NULL))
    return;
  double want = 0;
  for (int i = 0; i < 10; i++)
    want += (double)((long)(i + 1) * -1000) * (i + 1) + (i + 1) * 0.5;
  double got = ((many_fn)m.code)(-1000, 0.5, -2000, 1.0, -3000, 1.5, -4000, 2.0, -5000, 2.5,
                                 -6000, 3.0, -7000, 3.5, -8000, 4.0, -9000, 4.5, -10000, 5.0);
  CHECK(got == want);
  /* The same closure through ffi_call. */
  long a[10];
  double d[10];
  void *av[20];
  for (int i = 0; i < 10; i++) {
    a[i] = (long)(i + 1) * -1000;
    d[i] = (i + 1) * 0.5;
    av[2 * i] = &a[i];
    av[2 * i + 1] = &d[i];
  }
  got = 0;
  ffi_call(&m.cif, FFI_FN(m.code), &got, av);
  CHECK(got == want);
  ffi_closure_free(m.writable);
}

static void test_structs(void) {
  struct made m;
  ffi_type *t1[1] = {&s3c_t};
  if (make(&m, &s3c_t, 1, t1, cb_s3c, NULL)) {
    struct s3c x = {'a', 'b', 'c'};
    struct s3c r = ((struct s3c(*)(struct s3c))m.code)(x);
    CHECK(r.a == 'b' && r.b == 'c' && r.c == 'd');
    ffi_closure_free(m.writable);
  }
  ffi_type *t2[2] = {&ff_t, &fid_t};
  if (make(&m, &ff_t, 2, t2, cb_ff, NULL)) {
    struct ff x = {1.0f, 2.0f};
    struct fid y = {0.5f, 3, 0.25};
    struct ff r = ((struct ff(*)(struct ff, struct fid))m.code)(x, y);
    CHECK(r.a == 5.0f && r.b == 4.0f);
    ffi_closure_free(m.writable);
  }
  ffi_type *t3[3] = {&ffi_type_sint, &big_t, &fid_t};
  if (make(&m, &big_t, 3, t3, cb_big, NULL)) {
    struct big x = {1, 2, 3, 0.5};
    struct fid y = {0.5f, 3, 0.25};
    struct big r = ((struct big(*)(int, struct big, struct fid))m.code)(10, x, y);
    CHECK(r.a == 11 && r.b == 12 && r.c == 13 && r.d == 0.75);
    /* Round trip: ffi_call (sret) into the closure (sret). */
    int k = 20;
    void *av[3] = {&k, &x, &y};
    struct big r2;
    memset(&r2, 0, sizeof r2);
    ffi_call(&m.cif, FFI_FN(m.code), &r2, av);
    CHECK(r2.a == 21 && r2.b == 22 && r2.c == 23 && r2.d == 0.75);
    ffi_closure_free(m.writable);
  }
  ffi_type *t5[5] = {&ffi_type_slong, &ll_t, &ll_t, &ll_t, &ffi_type_slong};
  if (make(&m, &fid_t, 5, t5, cb_spill, NULL)) {
    struct ll a = {1, 2}, b = {3, 4}, c = {5, 6};
    struct fid r =
        ((struct fid(*)(long, struct ll, struct ll, struct ll, long))m.code)(100, a, b, c, 1000);
    CHECK(r.f == 3.0f && r.i == 7 && r.d == 1111.0);
    ffi_closure_free(m.writable);
  }
}

static void test_many_closures(void) {
  enum { N = 40 };
  struct made m[N];
  int bias[N];
  int made_ok[N];
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  for (int i = 0; i < N; i++) {
    bias[i] = i * 1000;
    made_ok[i] = make(&m[i], &ffi_type_sint, 2, a, cb_add, &bias[i]);
  }
  for (int i = 0; i < N; i++)
    if (made_ok[i])
      CHECK_INT(((int (*)(int, int))m[i].code)(i, 1), i * 1000 + i + 1);
  /* Free the odd ones; the even ones still work. */
  for (int i = 1; i < N; i += 2)
    if (made_ok[i])
      ffi_closure_free(m[i].writable);
  for (int i = 0; i < N; i += 2)
    if (made_ok[i])
      CHECK_INT(((int (*)(int, int))m[i].code)(2, 3), i * 1000 + 5);
  for (int i = 0; i < N; i += 2)
    if (made_ok[i])
      ffi_closure_free(m[i].writable);
}

/* A larger allocation: the bytes after the ffi_closure are the program's. */
static void test_large_allocation(void) {
  void *code = NULL;
  size_t extra = 256;
  ffi_closure *c = ffi_closure_alloc(sizeof(ffi_closure) + extra, &code);
  CHECK(c != NULL && code != NULL);
  if (c == NULL || code == NULL)
    return;
  unsigned char *tail = (unsigned char *)(c + 1);
  memset(tail, 0x5A, extra);
  ffi_cif cif;
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  int bias = 7;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, a), FFI_OK);
  CHECK_INT(ffi_prep_closure_loc(c, &cif, cb_add, &bias, code), FFI_OK);
  CHECK_INT(((int (*)(int, int))code)(1, 1), 9);
  int tail_ok = 1;
  for (size_t i = 0; i < extra; i++)
    tail_ok &= tail[i] == 0x5A;
  CHECK(tail_ok);
  ffi_closure_free(c);
}

/* The deprecated ffi_prep_closure (codeloc = the closure): still works on x86_64, where the
 * trampoline does not depend on where it runs. */
static void test_deprecated_prep_closure(void) {
  void *code = NULL;
  ffi_closure *c = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(c != NULL && code != NULL);
  if (c == NULL || code == NULL)
    return;
  ffi_cif cif;
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  int bias = 1000;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, a), FFI_OK);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  CHECK_INT(ffi_prep_closure(c, &cif, cb_add, &bias), FFI_OK);
#pragma GCC diagnostic pop
  CHECK(c->cif == &cif && c->fun == cb_add && c->user_data == &bias);
  CHECK_INT(((int (*)(int, int))code)(2, 3), 1005);
  ffi_closure_free(c);
}

/* 2000 closures live at once, all freed, then as many again. */
static void test_churn(void) {
  enum { N = 2000 };
  static struct made m[N];
  static int ok[N];
  static int bias[N];
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) {
      bias[i] = i + round;
      ok[i] = make(&m[i], &ffi_type_sint, 2, a, cb_add, &bias[i]);
    }
    int calls_ok = 1;
    for (int i = 0; i < N; i++)
      if (ok[i])
        calls_ok &= ((int (*)(int, int))m[i].code)(1, 2) == i + round + 3;
    CHECK(calls_ok);
    for (int i = 0; i < N; i++)
      if (ok[i])
        ffi_closure_free(m[i].writable);
  }
}

/* The inner closure: int (int) -> x * 3. */
static void cb_triple(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(ffi_sarg *)ret = *(int *)args[0] * 3;
}
/* The outer closure: int (int) -> inner(x) + inner(x + 1), calling the inner closure once
 * through ffi_call and once directly; user_data is the inner closure's struct made. */
static void cb_outer(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  struct made *inner = ud;
  int x = *(int *)args[0];
  void *av[1] = {&x};
  ffi_arg r = 0;
  ffi_call(&inner->cif, FFI_FN(inner->code), &r, av);
  *(ffi_sarg *)ret = (int)r + ((int (*)(int))inner->code)(x + 1);
}

static void test_nested(void) {
  struct made inner, outer;
  ffi_type *a[1] = {&ffi_type_sint};
  if (!make(&inner, &ffi_type_sint, 1, a, cb_triple, NULL))
    return;
  if (make(&outer, &ffi_type_sint, 1, a, cb_outer, &inner)) {
    CHECK_INT(((int (*)(int))outer.code)(5), 15 + 18);
    ffi_arg r = 0;
    int x = -2;
    void *av[1] = {&x};
    ffi_call(&outer.cif, FFI_FN(outer.code), &r, av);
    CHECK_INT((ffi_sarg)r, -6 + -3);
    ffi_closure_free(outer.writable);
  }
  ffi_closure_free(inner.writable);
}

static struct made shared;
static int shared_bias = 1;

static void *thread_body(void *arg) {
  int id = (int)(intptr_t)arg;
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  int own_bias = id * 100000;
  for (int i = 0; i < 300; i++) {
    struct made own;
    if (!make(&own, &ffi_type_sint, 2, a, cb_add, &own_bias))
      break;
    for (int j = 0; j < 20; j++) {
      int got_shared = ((int (*)(int, int))shared.code)(id, j);
      int got_own = ((int (*)(int, int))own.code)(i, j);
      if (got_shared != id + j + 1 || got_own != own_bias + i + j) {
        CHECK_INT(got_shared, id + j + 1);
        CHECK_INT(got_own, own_bias + i + j);
        ffi_closure_free(own.writable);
        return NULL;
      }
    }
    ffi_closure_free(own.writable);
  }
  return NULL;
}

static void test_threads(void) {
  ffi_type *a[2] = {&ffi_type_sint, &ffi_type_sint};
  if (!make(&shared, &ffi_type_sint, 2, a, cb_add, &shared_bias))
    return;
  pthread_t th[4];
  int started[4];
  for (int i = 0; i < 4; i++)
    started[i] = pthread_create(&th[i], NULL, thread_body, (void *)(intptr_t)(i + 1)) == 0;
  for (int i = 0; i < 4; i++) {
    CHECK(started[i]);
    if (started[i])
      pthread_join(th[i], NULL);
  }
  ffi_closure_free(shared.writable);
}

int main(void) {
  test_basic();
  test_narrow_returns();
  test_scalar_kinds();
  test_many_args();
  test_structs();
  test_many_closures();
  test_large_allocation();
  test_deprecated_prep_closure();
  test_churn();
  test_nested();
  test_threads();
  return finish("closures");
}
