/* java_raw.c: the (deprecated) Java raw API.
 *
 * Java packing on LP64: every argument takes one 8-byte slot, except 64-bit integers and
 * doubles, which take two (the value in the first, the second unused). No structs.
 *
 * Checks:
 *   - ffi_java_raw_size counts those slots;
 *   - ffi_java_ptrarray_to_raw widens narrow integers over their slot and puts 64-bit values
 *     in the first of their two slots; ffi_java_raw_to_ptrarray points each argument at its
 *     first slot;
 *   - ffi_java_raw_call calls a function with Java-packed arguments (as ffi_call does with
 *     the pointer array);
 *   - ffi_prep_java_raw_closure_loc: a Java raw closure called from C gets its arguments
 *     Java-packed; its cif, fun and user_data fields read back.
 * Where FFI_NATIVE_RAW_API is 1 (i386: 4-byte slots, so the same slot numbers), libffi has
 * neither ffi_java_raw_call nor Java raw closures: the program checks that the library
 * does not export them either, and tests the size and conversions only.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The whole API is deprecated; this file tests it on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include "check.h"

/* int32_t f(int8_t a, uint16_t b, int32_t c, float d, int64_t e, double f, void *g)
 * Slots: a 0, b 1, c 2, d 3, e 4-5, f 6-7, g 8: 9 slots (8 bytes each on x86_64, where e
 * and f sit in the first of their two; 4 bytes each on i386). */
enum { NARGS = 7, NSLOTS = 9 };
static ffi_type *sig[NARGS] = {&ffi_type_sint8, &ffi_type_uint16, &ffi_type_sint32,
                               &ffi_type_float, &ffi_type_sint64, &ffi_type_double,
                               &ffi_type_pointer};
static const int first_slot[NARGS] = {0, 1, 2, 3, 4, 6, 8};

static int marker;

static int32_t callee(int8_t a, uint16_t b, int32_t c, float d, int64_t e, double f, void *g) {
  int ok = a == -7 && b == 65535 && c == -2000000000 && d == -0.5f &&
           e == -(INT64_C(1) << 40) && f == 1e-3 && g == (void *)&marker;
  return ok ? -77 : 1;
}

#if !FFI_NATIVE_RAW_API
static void java_cb(ffi_cif *cif, void *ret, ffi_java_raw *raw, void *ud) {
  CHECK(cif->nargs == NARGS);
  CHECK(ud == (void *)&marker);
  CHECK_INT(*(int8_t *)&raw[0], -7);
  CHECK_INT(*(uint16_t *)&raw[1], 65535);
  CHECK_INT(*(int32_t *)&raw[2], -2000000000);
  CHECK(raw[3].flt == -0.5f);
  int64_t e;
  memcpy(&e, &raw[4], sizeof e);
  CHECK_INT(e, -(INT64_C(1) << 40));
  double f;
  memcpy(&f, &raw[6], sizeof f);
  CHECK(f == 1e-3);
  CHECK(raw[8].ptr == (void *)&marker);
  *(ffi_sarg *)ret = -99;
}
#endif

int main(void) {
  ffi_cif cif;
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, NARGS, &ffi_type_sint32, sig), FFI_OK);
  CHECK_INT(ffi_java_raw_size(&cif), NSLOTS * sizeof(ffi_java_raw));

  int8_t a = -7;
  uint16_t b = 65535;
  int32_t c = -2000000000;
  float d = -0.5f;
  int64_t e = -(INT64_C(1) << 40);
  double f = 1e-3;
  void *g = &marker;
  void *av[NARGS] = {&a, &b, &c, &d, &e, &f, &g};

  ffi_java_raw raw[NSLOTS];
  memset(raw, 0, sizeof raw);
  ffi_java_ptrarray_to_raw(&cif, av, raw);
  CHECK_INT(raw[0].sint, -7);
  CHECK_INT(raw[1].uint, 65535);
  CHECK_INT(raw[2].sint, -2000000000);
  CHECK(raw[3].flt == -0.5f);
  int64_t e2;
  memcpy(&e2, &raw[4], sizeof e2);
  CHECK_INT(e2, e);
  double f2;
  memcpy(&f2, &raw[6], sizeof f2);
  CHECK(f2 == f);
  CHECK(raw[8].ptr == (void *)&marker);

  void *back[NARGS];
  memset(back, 0, sizeof back);
  ffi_java_raw_to_ptrarray(&cif, raw, back);
  for (int i = 0; i < NARGS; i++) {
    if (back[i] != (void *)&raw[first_slot[i]]) {
      fprintf(stderr, "ffi_java_raw_to_ptrarray: argument %d points to slot %td, want %d\n",
              i, (ffi_java_raw *)back[i] - raw, first_slot[i]);
      failures++;
    }
  }

#if FFI_NATIVE_RAW_API
  CHECK(dlsym(RTLD_DEFAULT, "ffi_java_raw_call") == NULL);
  CHECK(dlsym(RTLD_DEFAULT, "ffi_prep_java_raw_closure") == NULL);
  CHECK(dlsym(RTLD_DEFAULT, "ffi_prep_java_raw_closure_loc") == NULL);
  CHECK(dlsym(RTLD_DEFAULT, "ffi_java_raw_size") != NULL);
  /* The pointer array made from the raw block calls the function. */
  ffi_arg rv = 0;
  ffi_call(&cif, FFI_FN(callee), &rv, back);
  CHECK_INT((int32_t)rv, -77);
#else
  ffi_arg rv = 0;
  ffi_java_raw_call(&cif, FFI_FN(callee), &rv, raw);
  CHECK_INT((int32_t)rv, -77);
  rv = 0;
  ffi_call(&cif, FFI_FN(callee), &rv, av); /* the pointer-array form agrees */
  CHECK_INT((int32_t)rv, -77);

  void *code = NULL;
  ffi_java_raw_closure *jc = ffi_closure_alloc(sizeof(ffi_java_raw_closure), &code);
  CHECK(jc != NULL && code != NULL);
  if (jc != NULL && code != NULL) {
    CHECK_INT(ffi_prep_java_raw_closure_loc(jc, &cif, java_cb, &marker, code), FFI_OK);
    CHECK(jc->cif == &cif);
    CHECK(jc->fun == java_cb);
    CHECK(jc->user_data == (void *)&marker);
    int32_t r = ((int32_t(*)(int8_t, uint16_t, int32_t, float, int64_t, double, void *))code)(
        a, b, c, d, e, f, g);
    CHECK_INT(r, -99);
    rv = 0;
    ffi_java_raw_call(&cif, FFI_FN(code), &rv, raw);
    CHECK_INT((int32_t)rv, -99);
    ffi_closure_free(jc);
  }
#endif

  return finish("java_raw");
}
