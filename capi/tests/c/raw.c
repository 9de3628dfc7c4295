/* raw.c: the raw API (ffi_raw arrays instead of pointer arrays).
 *
 * Checks:
 *   - ffi_raw_size: one 8-byte slot per integer, float, double and pointer, one slot (a
 *     pointer) per struct, two slots for a long double (i386: 4-byte slots, so two for a
 *     double, three for a long double);
 *   - ffi_ptrarray_to_raw: narrow integers widened to a full slot (sign- or zero-extended),
 *     float in .flt, double and pointers copied, a struct stored as a pointer to the
 *     caller's struct, a long double copied into two slots;
 *   - ffi_raw_to_ptrarray: scalars point into the raw array at their slot, a struct
 *     argument points at the struct the slot refers to;
 *   - ffi_raw_call calls a function with raw arguments (including a struct and a narrow
 *     return widened to ffi_arg);
 *   - ffi_prep_raw_closure_loc: a raw closure called from C gets its arguments as ffi_raw
 *     slots; the closure's cif, fun and user_data fields read back.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

struct pt { int x, y; };
static ffi_type *pt_el[] = {&ffi_type_sint, &ffi_type_sint, NULL};
static ffi_type pt_t = {0, 0, FFI_TYPE_STRUCT, pt_el};

/* The signature under test:
 *   int16_t f(int8_t a, uint16_t b, float c, struct pt d, double e, void *f, long double g,
 *             int32_t h)
 * x86_64 (8-byte slots): a 0, b 1, c 2, d 3 (pointer), e 4, f 5, g 6-7, h 8: 9 slots, 72
 * bytes. i386 (4-byte slots: for the scalars, the argument stack image of libffi's native
 * raw API): a 0, b 1, c 2, d 3 (pointer), e 4-5, f 6, g 7-9, h 10: 11 slots, 44 bytes.
 * (libffi's i386 port refuses raw closures with struct or long double arguments, and its
 * ffi_raw_call would pass d's pointer as the struct's bytes; closure-ffi's libffi passes
 * the struct the slot points to, consistently with ffi_raw_size and the conversions.) */
#if defined(__x86_64__) || defined(__aarch64__)
enum { S_A = 0, S_B = 1, S_C = 2, S_D = 3, S_E = 4, S_F = 5, S_G = 6, S_H = 8, NSLOTS = 9 };
#elif defined(__arm__) /* 4-byte slots, long double is double (two slots) */
enum { S_A = 0, S_B = 1, S_C = 2, S_D = 3, S_E = 4, S_F = 6, S_G = 7, S_H = 9, NSLOTS = 10 };
#else
enum { S_A = 0, S_B = 1, S_C = 2, S_D = 3, S_E = 4, S_F = 6, S_G = 7, S_H = 10, NSLOTS = 11 };
#endif
enum { NARGS = 8 };
static ffi_type *sig[NARGS] = {&ffi_type_sint8,  &ffi_type_uint16,  &ffi_type_float,
                               &pt_t,            &ffi_type_double,  &ffi_type_pointer,
                               &ffi_type_longdouble, &ffi_type_sint32};

static int16_t callee(int8_t a, uint16_t b, float c, struct pt d, double e, void *f,
                      long double g, int32_t h) {
  int ok = a == -5 && b == 60000 && c == 1.5f && d.x == 7 && d.y == -8 && e == 0.25 &&
           f == (void *)&pt_t && g == 1.0L / 3 && h == -100000;
  return (int16_t)(ok ? -1234 : 1);
}

/* Raw closure: checks every slot, returns a widened int16_t. */
static void raw_cb(ffi_cif *cif, void *ret, ffi_raw *raw, void *ud) {
  CHECK(cif->nargs == NARGS);
  CHECK(ud == (void *)&sig);
  CHECK_INT(*(int8_t *)&raw[S_A], -5);
  CHECK_INT(*(uint16_t *)&raw[S_B], 60000);
  CHECK(raw[S_C].flt == 1.5f);
  struct pt *d = raw[S_D].ptr;
  CHECK(d != NULL && d->x == 7 && d->y == -8);
  double e;
  memcpy(&e, &raw[S_E], sizeof e);
  CHECK(e == 0.25);
  CHECK(raw[S_F].ptr == (void *)&pt_t);
  long double g;
  memcpy(&g, &raw[S_G], sizeof g);
  CHECK(g == 1.0L / 3);
  CHECK_INT(*(int32_t *)&raw[S_H], -100000);
  *(ffi_sarg *)ret = -4321;
}

int main(void) {
  ffi_cif cif;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, NARGS, &ffi_type_sint16, sig), FFI_OK);
  CHECK_INT(ffi_raw_size(&cif), NSLOTS * sizeof(ffi_raw));

  int8_t a = -5;
  uint16_t b = 60000;
  float c = 1.5f;
  struct pt d = {7, -8};
  double e = 0.25;
  void *f = &pt_t;
  long double g = 1.0L / 3;
  int32_t h = -100000;
  void *av[NARGS] = {&a, &b, &c, &d, &e, &f, &g, &h};

  /* Pointer array -> raw. */
  ffi_raw raw[NSLOTS + 1];
  memset(raw, 0xEE, sizeof raw);
  ffi_ptrarray_to_raw(&cif, av, raw);
  CHECK_INT(raw[S_A].sint, -5);     /* sign-extended over the slot */
  CHECK_INT(raw[S_B].uint, 60000);  /* zero-extended over the slot */
  CHECK(raw[S_C].flt == 1.5f);
  CHECK(raw[S_D].ptr == (void *)&d); /* a struct is passed as a pointer to it */
  double e2;
  memcpy(&e2, &raw[S_E], sizeof e2);
  CHECK(e2 == 0.25);
  CHECK(raw[S_F].ptr == f);
  long double g2;
  memcpy(&g2, &raw[S_G], sizeof g2);
  CHECK(g2 == g);
  CHECK_INT(raw[S_H].sint, -100000);
  unsigned char past[sizeof(ffi_raw)];
  memset(past, 0xEE, sizeof past);
  CHECK(memcmp(&raw[NSLOTS], past, sizeof past) == 0); /* nothing written past the end */

  /* Raw -> pointer array. */
  void *back[NARGS];
  memset(back, 0, sizeof back);
  ffi_raw_to_ptrarray(&cif, raw, back);
  CHECK(back[0] == (void *)&raw[S_A]);
  CHECK(back[1] == (void *)&raw[S_B]);
  CHECK(back[2] == (void *)&raw[S_C]);
  CHECK(back[3] == (void *)&d);
  CHECK(back[4] == (void *)&raw[S_E]);
  CHECK(back[5] == (void *)&raw[S_F]);
  CHECK(back[6] == (void *)&raw[S_G]);
  CHECK(back[7] == (void *)&raw[S_H]);
  CHECK_INT(*(int8_t *)back[0], -5);
  CHECK_INT(*(int32_t *)back[7], -100000);

  /* ffi_raw_call. */
  ffi_arg rv = 0;
  ffi_raw_call(&cif, FFI_FN(callee), &rv, raw);
  CHECK_INT((ffi_sarg)rv, -1234);
  /* And the pointer-array form agrees. */
  rv = 0;
  ffi_call(&cif, FFI_FN(callee), &rv, av);
  CHECK_INT((ffi_sarg)rv, -1234);

  /* A raw closure. */
  void *code = NULL;
  ffi_raw_closure *rc = ffi_closure_alloc(sizeof(ffi_raw_closure), &code);
  CHECK(rc != NULL && code != NULL);
  if (rc != NULL && code != NULL) {
    CHECK_INT(ffi_prep_raw_closure_loc(rc, &cif, raw_cb, &sig, code), FFI_OK);
    CHECK(rc->cif == &cif);
    CHECK(rc->fun == raw_cb);
    CHECK(rc->user_data == (void *)&sig);
    int16_t r = ((int16_t(*)(int8_t, uint16_t, float, struct pt, double, void *, long double,
                             int32_t))code)(a, b, c, d, e, f, g, h);
    CHECK_INT(r, -4321);
    /* Through ffi_raw_call: the return widened to ffi_arg. */
    rv = 0;
    ffi_raw_call(&cif, FFI_FN(code), &rv, raw);
    CHECK_INT((ffi_sarg)rv, -4321);
    ffi_closure_free(rc);
  }

  return finish("raw");
}
