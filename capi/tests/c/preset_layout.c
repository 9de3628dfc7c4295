/* preset_layout.c: struct types whose size and alignment the caller set before
 * ffi_prep_cif, as CPython's ctypes does for every Structure and Union.
 *
 * ctypes describes a union as a STRUCT whose elements are the union's members and whose
 * size is the union's, and a struct with bit fields as a STRUCT with one element per field
 * (fields that share a storage unit included). closure-ffi's libffi passes:
 *   - a preset layout equal to the members' sequential layout as that struct;
 *   - a preset layout equal to the members' union layout as that union (members at 0):
 *     union { int; double } (INTEGER), union { double; double } (SSE), and a union return;
 *   - integer-only members with another layout (bit fields) as integer bytes of the preset
 *     size: struct { int a:3; int b:5; int c; } and a 16-byte bit-field struct;
 * and refuses with FFI_BAD_TYPEDEF what it cannot classify: a packed struct (members
 * aligned above the preset alignment) and floats at unknown offsets. libffi 3.4 passes the
 * packed struct in a register although gcc passes it in memory, so the callee reads garbage.
 * Each call is checked against the C function called directly. Only for closure-ffi's
 * libffi (the refusals differ). */

#include <ffi.h>

#include <stdio.h>

#include "check.h"

union int_double { int i; double d; };
union two_doubles { double a; double b; };
union int_float { int i; float f; };
struct bits { int a : 3; int b : 5; int c; };
struct bits16 { long long x : 40; long long y : 24; int z; };
struct __attribute__((packed)) packed { char c; int i; };

static double read_int_double(union int_double u, int which) { return which ? u.d : u.i; }
static double sum_two_doubles(union two_doubles u, double k) { return u.a * k; }
static union int_float make_int_float(int i) { union int_float u; u.i = i; return u; }
static long sum_bits(struct bits s) { return s.a * 1000 + s.b * 10 + s.c; }
static long long sum_bits16(int k, struct bits16 s) { return k + s.x + s.y + s.z; }

/* A struct type with a preset layout. */
static ffi_type preset(size_t size, unsigned short align, ffi_type **elements) {
  ffi_type t = {size, align, FFI_TYPE_STRUCT, elements};
  return t;
}

int main(void) {
  ffi_cif cif;

  /* union { int; double } as ctypes describes it: both members, union size. */
  ffi_type *int_double_el[3] = {&ffi_type_sint, &ffi_type_double, NULL};
  ffi_type int_double_t = preset(sizeof(union int_double), _Alignof(union int_double), int_double_el);
  ffi_type *args1[2] = {&int_double_t, &ffi_type_sint};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_double, args1) == FFI_OK);
  union int_double ud;
  ud.d = 2.5;
  int which = 1;
  double rd = 0;
  void *av1[2] = {&ud, &which};
  ffi_call(&cif, FFI_FN(read_int_double), &rd, av1);
  CHECK(rd == read_int_double(ud, 1));
  ud.i = -7;
  which = 0;
  ffi_call(&cif, FFI_FN(read_int_double), &rd, av1);
  CHECK(rd == read_int_double(ud, 0));

  /* union { double; double }: SSE, next to a double argument. */
  ffi_type *two_doubles_el[3] = {&ffi_type_double, &ffi_type_double, NULL};
  ffi_type two_doubles_t = preset(sizeof(union two_doubles), _Alignof(union two_doubles), two_doubles_el);
  ffi_type *args2[2] = {&two_doubles_t, &ffi_type_double};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_double, args2) == FFI_OK);
  union two_doubles u2 = {1.5};
  double k = 4.0;
  void *av2[2] = {&u2, &k};
  ffi_call(&cif, FFI_FN(sum_two_doubles), &rd, av2);
  CHECK(rd == 6.0);

  /* A union return. */
  ffi_type *int_float_el[3] = {&ffi_type_sint, &ffi_type_float, NULL};
  ffi_type int_float_t = preset(sizeof(union int_float), 4, int_float_el);
  ffi_type *args3[1] = {&ffi_type_sint};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &int_float_t, args3) == FFI_OK);
  int i3 = 0x3f800000;
  union int_float r3;
  ffi_arg r3_storage[2] = {0, 0};
  void *av3[1] = {&i3};
  ffi_call(&cif, FFI_FN(make_int_float), r3_storage, av3);
  __builtin_memcpy(&r3, r3_storage, sizeof r3);
  CHECK(r3.i == make_int_float(i3).i);

  /* struct { int a:3; int b:5; int c; }: three int elements, 8 bytes. */
  ffi_type *bits_el[4] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_sint, NULL};
  ffi_type bits_t = preset(sizeof(struct bits), 4, bits_el);
  ffi_type *args4[1] = {&bits_t};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_slong, args4) == FFI_OK);
  struct bits b = {-3, 11, 40000};
  ffi_arg rl = 0;
  void *av4[1] = {&b};
  ffi_call(&cif, FFI_FN(sum_bits), &rl, av4);
  CHECK((long)rl == sum_bits(b));

  /* A 16-byte bit-field struct after an int: two INTEGER eightbytes (i386: 12 bytes,
   * 4-aligned, on the stack; 32-bit Arm: 8-aligned, so in r2:r3 and the stack, r1 unused;
   * its members do not say so, only the preset alignment does). */
  ffi_type *bits16_el[4] = {&ffi_type_sint64, &ffi_type_sint64, &ffi_type_sint, NULL};
  ffi_type bits16_t = preset(sizeof(struct bits16), _Alignof(struct bits16), bits16_el);
  ffi_type *args5[2] = {&ffi_type_sint, &bits16_t};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint64, args5) == FFI_OK);
  struct bits16 b16 = {-5000000000LL, 1000000, -12};
  int k5 = 3;
  void *av5[2] = {&k5, &b16};
  long long rll = 0;
  ffi_call(&cif, FFI_FN(sum_bits16), &rll, av5);
  CHECK(rll == sum_bits16(k5, b16));

  /* Refused: a packed struct, and floats at unknown offsets. */
  ffi_type *packed_el[3] = {&ffi_type_schar, &ffi_type_sint, NULL};
  ffi_type packed_t = preset(sizeof(struct packed), 1, packed_el);
  ffi_type *args6[1] = {&packed_t};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_sint, args6) == FFI_BAD_TYPEDEF);
  ffi_type *float_bits_el[4] = {&ffi_type_float, &ffi_type_float, &ffi_type_float, NULL};
  ffi_type float_bits_t = preset(8, 4, float_bits_el);
  ffi_type *args7[1] = {&float_bits_t};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_sint, args7) == FFI_BAD_TYPEDEF);

  if (failures != 0) {
    fprintf(stderr, "preset_layout: %d check(s) failed\n", failures);
    return 1;
  }
  printf("preset_layout: all checks passed\n");
  return 0;
}
