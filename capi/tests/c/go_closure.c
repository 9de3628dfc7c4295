/* go_closure.c: ffi_prep_go_closure and ffi_call_go.
 *
 * A Go closure needs no executable memory: gc.tramp is a static entry point of the
 * library, and the caller passes the closure in the static-chain register (r10 on x86_64,
 * x18 on aarch64, ecx on i386); the callback gets the closure itself as its user_data.
 *
 * Checks:
 *   - ffi_prep_go_closure returns FFI_OK and fills tramp (non-NULL), cif and fun;
 *   - ffi_call_go(cif, FFI_FN(gc.tramp), rvalue, avalue, &gc) runs fun with
 *     user_data == &gc and the arguments, for integer, double, mixed and struct
 *     signatures (including a memory-class struct return), with narrow returns widened;
 *   - gcc's __builtin_call_with_static_chain calls gc.tramp directly from C with the
 *     static chain = &gc;
 *   - ffi_call_go to an ordinary C function behaves like ffi_call (the chain is ignored).
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* A Go closure with captured state after it, as Go's runtime lays them out. */
struct captured {
  ffi_go_closure gc;
  long bias;
};

/* long (long a, int b): a * b + bias, where bias is found through user_data. */
static void cb_long(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  struct captured *c = ud;
  *(ffi_sarg *)ret = *(long *)args[0] * *(int *)args[1] + c->bias;
}

/* int16_t (double, float, int8_t): records user_data, returns a narrow value. */
static void *seen_ud;
static void cb_narrow(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  seen_ud = ud;
  double d = *(double *)args[0];
  float f = *(float *)args[1];
  int8_t k = *(int8_t *)args[2];
  *(ffi_sarg *)ret = (int16_t)(d * 10 + f * 100 + k);
}

struct big { long a, b, c, d; };
static ffi_type *big_el[] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                             &ffi_type_slong, NULL};
static ffi_type big_t = {0, 0, FFI_TYPE_STRUCT, big_el};
struct dd { double x, y; };
static ffi_type *dd_el[] = {&ffi_type_double, &ffi_type_double, NULL};
static ffi_type dd_t = {0, 0, FFI_TYPE_STRUCT, dd_el};

/* struct big (struct dd, struct big): sret return, struct arguments in registers and memory. */
static void cb_struct(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  seen_ud = ud;
  struct dd p = *(struct dd *)args[0];
  struct big q = *(struct big *)args[1];
  struct big r = {q.a + (long)p.x, q.b + (long)p.y, q.c * 2, q.d * 3};
  *(struct big *)ret = r;
}

/* An ordinary function called through ffi_call_go. */
static long plain(long a, long b) { return a - b; }

static void test_long(void) {
  struct captured c;
  memset(&c, 0, sizeof c);
  c.bias = 1000;
  ffi_cif cif;
  ffi_type *t[2] = {&ffi_type_slong, &ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_slong, t), FFI_OK);
  CHECK_INT(ffi_prep_go_closure(&c.gc, &cif, cb_long), FFI_OK);
  CHECK(c.gc.tramp != NULL);
  CHECK(c.gc.cif == &cif);
  CHECK(c.gc.fun == cb_long);
  if (c.gc.tramp == NULL)
    return;
  long a = 6;
  int b = -7;
  void *av[2] = {&a, &b};
  long r = 0;
  ffi_call_go(&cif, FFI_FN(c.gc.tramp), &r, av, &c.gc);
  CHECK_INT(r, 6 * -7 + 1000);

#if defined(__GNUC__) && !defined(__clang__)
  /* Directly from C: gcc loads the static chain (r10, x18, ecx) for us. */
  long (*fn)(long, int) = (long (*)(long, int))c.gc.tramp;
  c.bias = 5;
  long r2 = __builtin_call_with_static_chain(fn(3, 4), &c.gc);
  CHECK_INT(r2, 17);
#endif
}

static void test_narrow_and_struct(void) {
  ffi_go_closure gc;
  ffi_cif cif;
  ffi_type *t[3] = {&ffi_type_double, &ffi_type_float, &ffi_type_sint8};
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_sint16, t), FFI_OK);
  CHECK_INT(ffi_prep_go_closure(&gc, &cif, cb_narrow), FFI_OK);
  double d = -3.5;
  float f = 0.25f;
  int8_t k = -3;
  void *av[3] = {&d, &f, &k};
  ffi_arg r = 0;
  seen_ud = NULL;
  ffi_call_go(&cif, FFI_FN(gc.tramp), &r, av, &gc);
  CHECK(seen_ud == (void *)&gc);
  CHECK_INT((ffi_sarg)r, -35 + 25 - 3);

  ffi_go_closure gs;
  ffi_cif scif;
  ffi_type *st[2] = {&dd_t, &big_t};
  CHECK_INT(ffi_prep_cif(&scif, FFI_DEFAULT_ABI, 2, &big_t, st), FFI_OK);
  CHECK_INT(ffi_prep_go_closure(&gs, &scif, cb_struct), FFI_OK);
  struct dd p = {10, 20};
  struct big q = {1, 2, 3, 4}, out;
  memset(&out, 0, sizeof out);
  void *sav[2] = {&p, &q};
  seen_ud = NULL;
  ffi_call_go(&scif, FFI_FN(gs.tramp), &out, sav, &gs);
  CHECK(seen_ud == (void *)&gs);
  CHECK(out.a == 11 && out.b == 22 && out.c == 6 && out.d == 12);
}

static void test_plain_target(void) {
  ffi_cif cif;
  ffi_type *t[2] = {&ffi_type_slong, &ffi_type_slong};
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_slong, t), FFI_OK);
  long a = 10, b = 3, r = 0;
  void *av[2] = {&a, &b};
  ffi_call_go(&cif, FFI_FN(plain), &r, av, &cif);
  CHECK_INT(r, 7);
  r = 0;
  ffi_call(&cif, FFI_FN(plain), &r, av);
  CHECK_INT(r, 7);
}

int main(void) {
  test_long();
  test_narrow_and_struct();
  test_plain_target();
  return finish("go_closure");
}
