/* call_plan.c: ffi_call_plan_alloc / _invoke / _size / _free (libffi 3.7 and 3.8).
 *
 * Checks, for a range of signatures (each invoked several times with different values, and
 * compared with ffi_call and the direct C call):
 *   - all-integer (long x3), double x2, void(void), narrow integer returns widened to
 *     ffi_arg, float, 20 mixed arguments spilling to the stack, struct arguments and a
 *     struct return in registers and in memory, long double, a variadic cif (snprintf), a
 *     closure as the target;
 *   - rvalue == NULL discards the result;
 *   - ffi_call_plan_size is non-zero and stable across invocations, and 0 for NULL;
 *   - ffi_call_plan_free(NULL) does nothing;
 *   - one plan invoked from four threads at once gives every thread the right results.
 *
 * Needs libffi >= 3.8. */

#include <ffi.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* size_t: 8 bytes on x86_64, 4 on i386. */
#define SIZE_T_TYPE (sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32)

/* A cif and its plan; the plan is checked for a sane size. */
struct planned {
  ffi_cif cif;
  ffi_call_plan *plan;
  size_t size;
};

static int plan(struct planned *p, ffi_type *rtype, unsigned nargs, ffi_type **atypes) {
  p->plan = NULL;
  ffi_status st = ffi_prep_cif(&p->cif, FFI_DEFAULT_ABI, nargs, rtype, atypes);
  CHECK_INT(st, FFI_OK);
  if (st != FFI_OK)
    return 0;
  p->plan = ffi_call_plan_alloc(&p->cif);
  CHECK(p->plan != NULL);
  if (p->plan == NULL)
    return 0;
  p->size = ffi_call_plan_size(p->plan);
  CHECK(p->size > 0);
  return 1;
}

static void unplan(struct planned *p) {
  CHECK_INT(ffi_call_plan_size(p->plan), p->size); /* stable */
  ffi_call_plan_free(p->plan);
}

/* ---- Callees ---- */

static long add3(long a, long b, long c) { return a * 100 + b * 10 + c; }
static double hyp(double a, double b) { return a * a + b * b; }
static int void_calls;
static void nothing(void) { void_calls++; }
static int8_t neg8(int8_t a) { return (int8_t)-a; }
static uint16_t inc16(uint16_t a) { return (uint16_t)(a + 1); }
static float halve(float a) { return a / 2; }
static double many(int8_t a, double b, uint16_t c, float d, int32_t e, double f, int64_t g,
                   double h, void *i, double j, long k, double l, long m, double n, long o,
                   double p, long q, double r, long s, double t) {
  return a + b + c + d + e + f + (double)g + h + (i != NULL) + j + (double)k + l + (double)m +
         n + (double)o + p + (double)q + r + (double)s + t;
}
struct pair { long a; double b; };
static ffi_type *pair_el[] = {&ffi_type_slong, &ffi_type_double, NULL};
static ffi_type pair_t = {0, 0, FFI_TYPE_STRUCT, pair_el};
struct quad { long a, b, c, d; };
static ffi_type *quad_el[] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                              &ffi_type_slong, NULL};
static ffi_type quad_t = {0, 0, FFI_TYPE_STRUCT, quad_el};
static struct pair swap_pair(struct pair p, int k) {
  struct pair r = {(long)p.b * k, (double)p.a * k};
  return r;
}
static struct quad spread(struct quad q, struct pair p) {
  struct quad r = {q.d + p.a, q.c, q.b, q.a + (long)p.b};
  return r;
}
static long double ldmul(long double a, int k) { return a * k; }

static void cb_sub(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(ffi_sarg *)ret = *(int *)args[0] - *(int *)args[1];
}

/* ---- Tests ---- */

static void test_scalars(void) {
  struct planned p;
  ffi_type *l3[3] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong};
  if (plan(&p, &ffi_type_slong, 3, l3)) {
    for (long i = -3; i < 4; i++) {
      long a = i, b = i * 2, c = -i;
      void *av[3] = {&a, &b, &c};
      long r = 0;
      ffi_call_plan_invoke(p.plan, FFI_FN(add3), &r, av);
      CHECK_INT(r, add3(a, b, c));
    }
    long a = 1, b = 2, c = 3;
    void *av[3] = {&a, &b, &c};
    ffi_call_plan_invoke(p.plan, FFI_FN(add3), NULL, av); /* result discarded */
    unplan(&p);
  }
  ffi_type *d2[2] = {&ffi_type_double, &ffi_type_double};
  if (plan(&p, &ffi_type_double, 2, d2)) {
    double a = 3, b = 4, r = 0;
    void *av[2] = {&a, &b};
    ffi_call_plan_invoke(p.plan, FFI_FN(hyp), &r, av);
    CHECK(r == 25);
    a = -0.5;
    ffi_call_plan_invoke(p.plan, FFI_FN(hyp), &r, av);
    CHECK(r == 16.25);
    unplan(&p);
  }
  if (plan(&p, &ffi_type_void, 0, NULL)) {
    ffi_call_plan_invoke(p.plan, FFI_FN(nothing), NULL, NULL);
    ffi_call_plan_invoke(p.plan, FFI_FN(nothing), NULL, NULL);
    CHECK_INT(void_calls, 2);
    unplan(&p);
  }
  ffi_type *s8[1] = {&ffi_type_sint8};
  if (plan(&p, &ffi_type_sint8, 1, s8)) {
    int8_t a = 100;
    void *av[1] = {&a};
    ffi_arg r = (ffi_arg)0xA5A5A5A5A5A5A5A5ull;
    ffi_call_plan_invoke(p.plan, FFI_FN(neg8), &r, av);
    CHECK_INT((ffi_sarg)r, -100);
    unplan(&p);
  }
  ffi_type *u16[1] = {&ffi_type_uint16};
  if (plan(&p, &ffi_type_uint16, 1, u16)) {
    uint16_t a = 0xFFFE;
    void *av[1] = {&a};
    ffi_arg r = (ffi_arg)0xA5A5A5A5A5A5A5A5ull;
    ffi_call_plan_invoke(p.plan, FFI_FN(inc16), &r, av);
    CHECK_INT(r, 0xFFFF);
    unplan(&p);
  }
  ffi_type *f1[1] = {&ffi_type_float};
  if (plan(&p, &ffi_type_float, 1, f1)) {
    float a = 5, r = 0;
    void *av[1] = {&a};
    ffi_call_plan_invoke(p.plan, FFI_FN(halve), &r, av);
    CHECK(r == 2.5f);
    unplan(&p);
  }
}

static void test_many(void) {
  ffi_type *t[20] = {&ffi_type_sint8, &ffi_type_double, &ffi_type_uint16, &ffi_type_float,
                     &ffi_type_sint32, &ffi_type_double, &ffi_type_sint64, &ffi_type_double,
                     &ffi_type_pointer, &ffi_type_double, &ffi_type_slong, &ffi_type_double,
                     &ffi_type_slong, &ffi_type_double, &ffi_type_slong, &ffi_type_double,
                     &ffi_type_slong, &ffi_type_double, &ffi_type_slong, &ffi_type_double};
  struct planned p;
  if (!plan(&p, &ffi_type_double, 20, t))
    return;
  int8_t a = -8;
  uint16_t c = 60000;
  float d = 0.5f;
  int32_t e = -7;
  int64_t g = 1LL << 40;
  void *i = &p;
  long k = 11, m = 13, o = 15, q = 17, s = 19;
  double b = 0.25, f = 0.75, h = 1.25, j = 1.5, l = 2.5, n = 3.5, pp = 4.5, r = 5.5, tt = 6.5;
  void *av[20] = {&a, &b, &c, &d, &e, &f, &g, &h, &i, &j, &k, &l, &m, &n, &o, &pp, &q, &r, &s, &tt};
  double got = 0, via_call = 0;
  ffi_call_plan_invoke(p.plan, FFI_FN(many), &got, av);
  ffi_call(&p.cif, FFI_FN(many), &via_call, av);
  double want = many(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, pp, q, r, s, tt);
  CHECK(got == want);
  CHECK(via_call == want);
  unplan(&p);
}

static void test_structs_and_long_double(void) {
  struct planned p;
  ffi_type *t2[2] = {&pair_t, &ffi_type_sint};
  if (plan(&p, &pair_t, 2, t2)) {
    struct pair x = {3, 4.0}, r = {0, 0};
    int k = -2;
    void *av[2] = {&x, &k};
    ffi_call_plan_invoke(p.plan, FFI_FN(swap_pair), &r, av);
    CHECK(r.a == -8 && r.b == -6.0);
    unplan(&p);
  }
  ffi_type *tq[2] = {&quad_t, &pair_t};
  if (plan(&p, &quad_t, 2, tq)) {
    struct quad q = {1, 2, 3, 4}, r;
    struct pair x = {10, 20.0};
    memset(&r, 0, sizeof r);
    void *av[2] = {&q, &x};
    ffi_call_plan_invoke(p.plan, FFI_FN(spread), &r, av);
    CHECK(r.a == 14 && r.b == 3 && r.c == 2 && r.d == 21);
    ffi_call_plan_invoke(p.plan, FFI_FN(spread), NULL, av); /* sret into scratch */
    unplan(&p);
  }
  ffi_type *tl[2] = {&ffi_type_longdouble, &ffi_type_sint};
  if (plan(&p, &ffi_type_longdouble, 2, tl)) {
    long double x = 1.0L / 3, r = 0;
    int k = 3;
    void *av[2] = {&x, &k};
    ffi_call_plan_invoke(p.plan, FFI_FN(ldmul), &r, av);
    CHECK(r == x * 3);
    unplan(&p);
  }
}

static void test_variadic_and_closure(void) {
  /* snprintf through a plan built from a variadic cif. */
  ffi_cif cif;
  ffi_type *t[5] = {&ffi_type_pointer, SIZE_T_TYPE   , &ffi_type_pointer, &ffi_type_sint,
                    &ffi_type_double};
  CHECK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 5, &ffi_type_sint, t) == FFI_OK);
  ffi_call_plan *vp = ffi_call_plan_alloc(&cif);
  CHECK(vp != NULL);
  if (vp != NULL) {
    char buf[64];
    char *bp = buf;
    size_t size = sizeof buf;
    const char *fmt = "%d/%.2f";
    int n = -12;
    double d = 0.5;
    void *av[5] = {&bp, &size, &fmt, &n, &d};
    ffi_arg r = 0;
    ffi_call_plan_invoke(vp, FFI_FN(snprintf), &r, av);
    CHECK(strcmp(buf, "-12/0.50") == 0);
    CHECK_INT((int)r, 8);
    ffi_call_plan_free(vp);
  }

  /* A closure as the target. */
  void *code = NULL;
  ffi_closure *w = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(w != NULL && code != NULL);
  if (w == NULL || code == NULL)
    return;
  struct planned p;
  ffi_type *ii[2] = {&ffi_type_sint, &ffi_type_sint};
  if (plan(&p, &ffi_type_sint, 2, ii)) {
    CHECK(ffi_prep_closure_loc(w, &p.cif, cb_sub, NULL, code) == FFI_OK);
    int a = 5, b = 8;
    void *av[2] = {&a, &b};
    ffi_arg r = 0;
    ffi_call_plan_invoke(p.plan, FFI_FN(code), &r, av);
    CHECK_INT((ffi_sarg)r, -3);
    unplan(&p);
  }
  ffi_closure_free(w);
}

static void test_null_plan(void) {
  ffi_call_plan_free(NULL);
  CHECK_INT(ffi_call_plan_size(NULL), 0);
}

/* ---- Threads sharing one plan ---- */

static struct planned shared;

static void *worker(void *arg) {
  long id = (long)(intptr_t)arg;
  for (long i = 0; i < 20000; i++) {
    long a = id, b = i, c = id ^ i;
    void *av[3] = {&a, &b, &c};
    long r = 0;
    ffi_call_plan_invoke(shared.plan, FFI_FN(add3), &r, av);
    if (r != add3(a, b, c)) {
      CHECK_INT(r, add3(a, b, c));
      break;
    }
  }
  return NULL;
}

static void test_threads(void) {
  static ffi_type *l3[3] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong};
  if (!plan(&shared, &ffi_type_slong, 3, l3))
    return;
  pthread_t th[4];
  int started[4];
  for (int i = 0; i < 4; i++)
    started[i] = pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(i + 1)) == 0;
  for (int i = 0; i < 4; i++) {
    CHECK(started[i]);
    if (started[i])
      pthread_join(th[i], NULL);
  }
  unplan(&shared);
}

int main(void) {
  test_scalars();
  test_many();
  test_structs_and_long_double();
  test_variadic_and_closure();
  test_null_plan();
  test_threads();
  return finish("call_plan");
}
