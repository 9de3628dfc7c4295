/* raw.c: the raw API (ffi_raw arrays instead of pointer arrays).
 *
 * Checks:
 *   - ffi_raw_size: one 8-byte slot per integer, float, double and pointer, one slot (a
 *     pointer) per struct, two slots for a long double;
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
 * Slots: a 0, b 1, c 2, d 3 (pointer), e 4, f 5, g 6-7, h 8: 9 slots, 72 bytes. */
enum { NARGS = 8, NSLOTS = 9 };
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
  CHECK_INT(*(int8_t *)&raw[0], -5);
  CHECK_INT(*(uint16_t *)&raw[1], 60000);
  CHECK(raw[2].flt == 1.5f);
  struct pt *d = raw[3].ptr;
  CHECK(d != NULL && d->x == 7 && d->y == -8);
  double e;
  memcpy(&e, &raw[4], sizeof e);
  CHECK(e == 0.25);
  CHECK(raw[5].ptr == (void *)&pt_t);
  long double g;
  memcpy(&g, &raw[6], sizeof g);
  CHECK(g == 1.0L / 3);
  CHECK_INT(*(int32_t *)&raw[8], -100000);
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
  CHECK_INT(raw[0].sint, -5);     /* sign-extended over the slot */
  CHECK_INT(raw[1].uint, 60000);  /* zero-extended over the slot */
  CHECK(raw[2].flt == 1.5f);
  CHECK(raw[3].ptr == (void *)&d); /* a struct is passed as a pointer to it */
  double e2;
  memcpy(&e2, &raw[4], sizeof e2);
  CHECK(e2 == 0.25);
  CHECK(raw[5].ptr == f);
  long double g2;
  memcpy(&g2, &raw[6], sizeof g2);
  CHECK(g2 == g);
  CHECK_INT(raw[8].sint, -100000);
  unsigned char past[sizeof(ffi_raw)];
  memset(past, 0xEE, sizeof past);
  CHECK(memcmp(&raw[NSLOTS], past, sizeof past) == 0); /* nothing written past the end */

  /* Raw -> pointer array. */
  void *back[NARGS];
  memset(back, 0, sizeof back);
  ffi_raw_to_ptrarray(&cif, raw, back);
  CHECK(back[0] == (void *)&raw[0]);
  CHECK(back[1] == (void *)&raw[1]);
  CHECK(back[2] == (void *)&raw[2]);
  CHECK(back[3] == (void *)&d);
  CHECK(back[4] == (void *)&raw[4]);
  CHECK(back[5] == (void *)&raw[5]);
  CHECK(back[6] == (void *)&raw[6]);
  CHECK(back[7] == (void *)&raw[8]);
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
