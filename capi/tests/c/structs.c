/* structs.c: structs passed and returned by value, and struct layout.
 *
 * Checks:
 *   - ffi_prep_cif lays out struct types in place (size and alignment filled in, nested
 *     structs too) and ffi_get_struct_offsets reports every member offset (also with
 *     offsets == NULL, and on a type that was never prepared), matching the C compiler;
 *   - by-value arguments and returns for every x86-64 classification: 3 bytes, 5 bytes,
 *     8 bytes (INTEGER, SSE, mixed), 12 bytes (float[3] as a struct), 16 bytes (SSE+SSE,
 *     INTEGER+SSE, SSE+INTEGER, mixed in one eightbyte), > 16 bytes (memory, sret), nested
 *     structs with an array member described as a struct;
 *   - a struct that no longer fits in the remaining GPRs (or XMM registers) goes to the
 *     stack whole, and a later scalar still takes the register left over; a struct whose
 *     first eightbyte is the sixth GPR argument (libffi >= 3.5 headers only: libffi 3.4.4
 *     gets it wrong, PR #848);
 *   - a large struct is passed by value: the callee's changes do not reach the caller's
 *     object, and ffi_call leaves avalue[] unchanged (libffi >= 3.7 semantics);
 *   - a small struct return writes exactly the struct's bytes into rvalue;
 *   - a struct type whose size and alignment the program filled in itself (as ctypes does)
 *     is used as given.
 *
 * Works with libffi >= 3.4. */

#include <ffi.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* ---- The C structs and their ffi_type descriptions ---- */

struct s3c { char a, b, c; };
static ffi_type *s3c_el[] = {&ffi_type_schar, &ffi_type_schar, &ffi_type_schar, NULL};
static ffi_type s3c_t = {0, 0, FFI_TYPE_STRUCT, s3c_el};

struct c5 { signed char s[5]; }; /* signed: char is unsigned on aarch64 */
static ffi_type *c5_el[] = {&ffi_type_schar, &ffi_type_schar, &ffi_type_schar,
                            &ffi_type_schar, &ffi_type_schar, NULL};
static ffi_type c5_t = {0, 0, FFI_TYPE_STRUCT, c5_el};

struct small { char c; short s; int i; };
static ffi_type *small_el[] = {&ffi_type_schar, &ffi_type_sshort, &ffi_type_sint, NULL};
static ffi_type small_t = {0, 0, FFI_TYPE_STRUCT, small_el};

struct ff { float a, b; };
static ffi_type *ff_el[] = {&ffi_type_float, &ffi_type_float, NULL};
static ffi_type ff_t = {0, 0, FFI_TYPE_STRUCT, ff_el};

struct cf { signed char c; float f; }; /* char and float share one INTEGER eightbyte */
static ffi_type *cf_el[] = {&ffi_type_schar, &ffi_type_float, NULL};
static ffi_type cf_t = {0, 0, FFI_TYPE_STRUCT, cf_el};

struct f3 { float v[3]; }; /* an array member, described as three floats */
static ffi_type *f3_el[] = {&ffi_type_float, &ffi_type_float, &ffi_type_float, NULL};
static ffi_type f3_t = {0, 0, FFI_TYPE_STRUCT, f3_el};

struct fid { float f; int i; double d; }; /* INTEGER, SSE */
static ffi_type *fid_el[] = {&ffi_type_float, &ffi_type_sint, &ffi_type_double, NULL};
static ffi_type fid_t = {0, 0, FFI_TYPE_STRUCT, fid_el};

struct dd { double a, b; }; /* SSE, SSE */
static ffi_type *dd_el[] = {&ffi_type_double, &ffi_type_double, NULL};
static ffi_type dd_t = {0, 0, FFI_TYPE_STRUCT, dd_el};

struct ld { long a; double b; }; /* INTEGER, SSE */
static ffi_type *ld_el[] = {&ffi_type_slong, &ffi_type_double, NULL};
static ffi_type ld_t = {0, 0, FFI_TYPE_STRUCT, ld_el};

struct dl { double a; long b; }; /* SSE, INTEGER */
static ffi_type *dl_el[] = {&ffi_type_double, &ffi_type_slong, NULL};
static ffi_type dl_t = {0, 0, FFI_TYPE_STRUCT, dl_el};

struct ll { long a, b; }; /* INTEGER, INTEGER */
static ffi_type *ll_el[] = {&ffi_type_slong, &ffi_type_slong, NULL};
static ffi_type ll_t = {0, 0, FFI_TYPE_STRUCT, ll_el};

struct dc { double d; char c; }; /* tail padding: size 16 */
static ffi_type *dc_el[] = {&ffi_type_double, &ffi_type_schar, NULL};
static ffi_type dc_t = {0, 0, FFI_TYPE_STRUCT, dc_el};

struct big { long a, b, c; double d; }; /* 32 bytes: memory */
static ffi_type *big_el[] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                             &ffi_type_double, NULL};
static ffi_type big_t = {0, 0, FFI_TYPE_STRUCT, big_el};

struct l3 { long a, b, c; }; /* 24 bytes: memory */
static ffi_type *l3_el[] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong, NULL};
static ffi_type l3_t = {0, 0, FFI_TYPE_STRUCT, l3_el};

struct inner { char a; double b; };
struct outer { struct inner in; short c; int arr[2]; };
static ffi_type *inner_el[] = {&ffi_type_schar, &ffi_type_double, NULL};
static ffi_type inner_t = {0, 0, FFI_TYPE_STRUCT, inner_el};
static ffi_type *arr2_el[] = {&ffi_type_sint, &ffi_type_sint, NULL};
static ffi_type arr2_t = {0, 0, FFI_TYPE_STRUCT, arr2_el}; /* int[2] as a struct */
static ffi_type *outer_el[] = {&inner_t, &ffi_type_sshort, &arr2_t, NULL};
static ffi_type outer_t = {0, 0, FFI_TYPE_STRUCT, outer_el};

/* ---- Callees: each changes every member so a mix-up shows ---- */

static struct s3c tr_s3c(struct s3c x) { x.a += 1; x.b += 2; x.c += 3; return x; }
static struct c5 tr_c5(struct c5 x) { for (int i = 0; i < 5; i++) x.s[i] = (signed char)(x.s[i] * 2); return x; }
static struct small tr_small(int k, struct small x) { x.c += k; x.s += k; x.i += k; return x; }
static struct ff tr_ff(struct ff x) { struct ff r = {x.b * 2, x.a * 2}; return r; }
static struct cf tr_cf(struct cf x) { x.c = (signed char)-x.c; x.f = -x.f; return x; }
static struct f3 tr_f3(struct f3 x, float k) { for (int i = 0; i < 3; i++) x.v[i] += k; return x; }
static struct fid tr_fid(struct fid x, int k) { x.f += k; x.i += k; x.d += k; return x; }
static struct dd tr_dd(struct dd x) { struct dd r = {x.b, x.a}; return r; }
static struct ld tr_ld(struct ld x) { x.a = -x.a; x.b = -x.b; return x; }
static struct dl tr_dl(struct dl x) { x.a = -x.a; x.b = -x.b; return x; }
static struct dc tr_dc(struct dc x) { x.d *= 3; x.c = (char)(x.c + 1); return x; }
static struct big tr_big(struct big x, long k) {
  struct big r = {x.a + k, x.b + k, x.c + k, x.d + (double)k};
  x.a = x.b = x.c = -1; /* scribble on the callee's copy */
  x.d = -1;
  return r;
}
static struct l3 tr_l3(struct l3 x) { struct l3 r = {x.c, x.b, x.a}; return r; }
static struct outer tr_outer(struct outer x) {
  x.in.a += 1; x.in.b *= 2; x.c -= 1; x.arr[0] += 10; x.arr[1] += 20;
  return x;
}

/* Register exhaustion: x in rdi, a in rsi:rdx, b in rcx:r8, c on the stack (only r9 is
 * left), y in r9. */
static long gpr_spill(long x, struct ll a, struct ll b, struct ll c, long y) {
  return x * 1 + a.a * 2 + a.b * 3 + b.a * 4 + b.b * 5 + c.a * 6 + c.b * 7 + y * 8;
}
#if defined(FFI_VERSION_NUMBER)
/* n in rdi, a..e each in one GPR and one XMM register: e's long is the sixth GPR argument
 * (libffi before 3.4.7 then overwrote xmm0: libffi PR #848). */
static double sixth_gpr(int n, struct ld a, struct ld b, struct ld c, struct ld d, struct ld e) {
  return n + (double)(a.a + b.a * 2 + c.a * 3 + d.a * 4 + e.a * 5) +
         a.b * 10 + b.b * 20 + c.b * 30 + d.b * 40 + e.b * 50;
}
#endif
/* a, b, c in xmm0-5, x in xmm6, d on the stack (only xmm7 left), y in xmm7. */
static double sse_spill(struct dd a, struct dd b, struct dd c, double x, struct dd d, double y) {
  return a.a * 1 + a.b * 2 + b.a * 3 + b.b * 4 + c.a * 5 + c.b * 6 + x * 7 + d.a * 8 +
         d.b * 9 + y * 10;
}

/* ---- Helpers ---- */

/* Calls fn through a cif of nargs arguments returning rtype. */
static void call(ffi_type *rtype, unsigned nargs, ffi_type **atypes, void (*fn)(void),
                 void *rvalue, void **avalue) {
  ffi_cif cif;
  ffi_status st = ffi_prep_cif(&cif, FFI_DEFAULT_ABI, nargs, rtype, atypes);
  CHECK_INT(st, FFI_OK);
  if (st == FFI_OK)
    ffi_call(&cif, fn, rvalue, avalue);
}

/* Compares a laid-out ffi_type and its offsets with the C compiler's layout. */
static void check_layout(const char *name, ffi_type *t, size_t size, size_t align,
                         const size_t *want, size_t n) {
  size_t got[8];
  memset(got, 0xFF, sizeof got);
  ffi_status st = ffi_get_struct_offsets(FFI_DEFAULT_ABI, t, got);
  if (st != FFI_OK) {
    fprintf(stderr, "%s: ffi_get_struct_offsets returned %d\n", name, (int)st);
    failures++;
    return;
  }
  if (t->size != size || t->alignment != align) {
    fprintf(stderr, "%s: laid out as size %zu align %u, want %zu %zu\n", name, t->size,
            t->alignment, size, align);
    failures++;
  }
  for (size_t i = 0; i < n; i++) {
    if (got[i] != want[i]) {
      fprintf(stderr, "%s: member %zu at offset %zu, want %zu\n", name, i, got[i], want[i]);
      failures++;
    }
  }
  if (got[n] != (size_t)-1) {
    fprintf(stderr, "%s: ffi_get_struct_offsets wrote past the last member\n", name);
    failures++;
  }
}

#define OFFS(...) ((const size_t[]){__VA_ARGS__}), (sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))

static void test_layout(void) {
  /* A type never seen by ffi_prep_cif: ffi_get_struct_offsets lays it out (NULL offsets). */
  CHECK(inner_t.size == 0 && outer_t.size == 0);
  CHECK_INT(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &outer_t, NULL), FFI_OK);
  CHECK_INT(outer_t.size, sizeof(struct outer));
  CHECK_INT(outer_t.alignment, _Alignof(struct outer));
  CHECK_INT(inner_t.size, sizeof(struct inner)); /* nested types laid out too */
  CHECK_INT(arr2_t.size, 8);
  CHECK_INT(arr2_t.alignment, 4);

  /* ffi_prep_cif fills in size and alignment of argument and return types. */
  CHECK(small_t.size == 0 && small_t.alignment == 0);
  CHECK(big_t.size == 0);
  ffi_cif cif;
  ffi_type *args[1] = {&small_t};
  CHECK_INT(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &big_t, args), FFI_OK);
  CHECK_INT(small_t.size, sizeof(struct small));
  CHECK_INT(small_t.alignment, _Alignof(struct small));
  CHECK_INT(small_t.type, FFI_TYPE_STRUCT);
  CHECK_INT(big_t.size, sizeof(struct big));
  CHECK_INT(big_t.alignment, _Alignof(struct big));

  check_layout("s3c", &s3c_t, sizeof(struct s3c), _Alignof(struct s3c),
               OFFS(offsetof(struct s3c, a), offsetof(struct s3c, b), offsetof(struct s3c, c)));
  check_layout("c5", &c5_t, 5, 1, OFFS(0, 1, 2, 3, 4));
  check_layout("small", &small_t, sizeof(struct small), _Alignof(struct small),
               OFFS(offsetof(struct small, c), offsetof(struct small, s), offsetof(struct small, i)));
  check_layout("cf", &cf_t, sizeof(struct cf), _Alignof(struct cf),
               OFFS(offsetof(struct cf, c), offsetof(struct cf, f)));
  check_layout("f3", &f3_t, sizeof(struct f3), _Alignof(struct f3), OFFS(0, 4, 8));
  check_layout("fid", &fid_t, sizeof(struct fid), _Alignof(struct fid),
               OFFS(offsetof(struct fid, f), offsetof(struct fid, i), offsetof(struct fid, d)));
  check_layout("dc", &dc_t, sizeof(struct dc), _Alignof(struct dc),
               OFFS(offsetof(struct dc, d), offsetof(struct dc, c)));
  check_layout("big", &big_t, sizeof(struct big), _Alignof(struct big),
               OFFS(offsetof(struct big, a), offsetof(struct big, b), offsetof(struct big, c),
                    offsetof(struct big, d)));
  check_layout("inner", &inner_t, sizeof(struct inner), _Alignof(struct inner),
               OFFS(offsetof(struct inner, a), offsetof(struct inner, b)));
  check_layout("outer", &outer_t, sizeof(struct outer), _Alignof(struct outer),
               OFFS(offsetof(struct outer, in), offsetof(struct outer, c),
                    offsetof(struct outer, arr)));
}

static void test_small_structs(void) {
  /* 3 bytes, returned into a guarded buffer: exactly 3 bytes are written. */
  {
    struct s3c x = {1, 2, 3};
    unsigned char buf[16];
    memset(buf, 0xCC, sizeof buf);
    ffi_type *a[1] = {&s3c_t};
    void *av[1] = {&x};
    call(&s3c_t, 1, a, FFI_FN(tr_s3c), buf, av);
    struct s3c r;
    memcpy(&r, buf, sizeof r);
    CHECK(r.a == 2 && r.b == 4 && r.c == 6);
    int guard_ok = 1;
    for (size_t i = sizeof r; i < sizeof buf; i++)
      guard_ok &= buf[i] == 0xCC;
    CHECK(guard_ok);
  }
  {
    struct c5 x = {{1, -2, 3, -4, 5}}, r;
    ffi_type *a[1] = {&c5_t};
    void *av[1] = {&x};
    call(&c5_t, 1, a, FFI_FN(tr_c5), &r, av);
    CHECK(r.s[0] == 2 && r.s[1] == -4 && r.s[2] == 6 && r.s[3] == -8 && r.s[4] == 10);
  }
  {
    struct small x = {10, 1000, 100000}, r;
    int k = -3;
    ffi_type *a[2] = {&ffi_type_sint, &small_t};
    void *av[2] = {&k, &x};
    call(&small_t, 2, a, FFI_FN(tr_small), &r, av);
    CHECK(r.c == 7 && r.s == 997 && r.i == 99997);
  }
  {
    struct ff x = {1.5f, -2.5f}, r;
    ffi_type *a[1] = {&ff_t};
    void *av[1] = {&x};
    call(&ff_t, 1, a, FFI_FN(tr_ff), &r, av);
    CHECK(r.a == -5.0f && r.b == 3.0f);
  }
  {
    struct cf x = {7, 0.75f}, r;
    ffi_type *a[1] = {&cf_t};
    void *av[1] = {&x};
    call(&cf_t, 1, a, FFI_FN(tr_cf), &r, av);
    CHECK(r.c == -7 && r.f == -0.75f);
  }
  {
    struct f3 x = {{1.0f, 2.0f, 3.0f}}, r;
    float k = 0.5f;
    ffi_type *a[2] = {&f3_t, &ffi_type_float};
    void *av[2] = {&x, &k};
    call(&f3_t, 2, a, FFI_FN(tr_f3), &r, av);
    CHECK(r.v[0] == 1.5f && r.v[1] == 2.5f && r.v[2] == 3.5f);
  }
}

static void test_sixteen_byte_structs(void) {
  {
    struct fid x = {1.5f, 2, 3.25}, r;
    int k = 10;
    ffi_type *a[2] = {&fid_t, &ffi_type_sint};
    void *av[2] = {&x, &k};
    call(&fid_t, 2, a, FFI_FN(tr_fid), &r, av);
    CHECK(r.f == 11.5f && r.i == 12 && r.d == 13.25);
  }
  {
    struct dd x = {1.0, 2.0}, r;
    ffi_type *a[1] = {&dd_t};
    void *av[1] = {&x};
    call(&dd_t, 1, a, FFI_FN(tr_dd), &r, av);
    CHECK(r.a == 2.0 && r.b == 1.0);
  }
  {
    struct ld x = {5, 0.5}, r;
    ffi_type *a[1] = {&ld_t};
    void *av[1] = {&x};
    call(&ld_t, 1, a, FFI_FN(tr_ld), &r, av);
    CHECK(r.a == -5 && r.b == -0.5);
  }
  {
    struct dl x = {0.5, 5}, r;
    ffi_type *a[1] = {&dl_t};
    void *av[1] = {&x};
    call(&dl_t, 1, a, FFI_FN(tr_dl), &r, av);
    CHECK(r.a == -0.5 && r.b == -5);
  }
  {
    struct dc x = {2.0, 'x'}, r;
    ffi_type *a[1] = {&dc_t};
    void *av[1] = {&x};
    call(&dc_t, 1, a, FFI_FN(tr_dc), &r, av);
    CHECK(r.d == 6.0 && r.c == 'y');
  }
}

static void test_memory_structs(void) {
  {
    struct big x = {1, 2, 3, 4.5}, r;
    long k = 100;
    ffi_type *a[2] = {&big_t, &ffi_type_slong};
    void *av[2] = {&x, &k};
    void *av_before[2] = {av[0], av[1]};
    call(&big_t, 2, a, FFI_FN(tr_big), &r, av);
    CHECK(r.a == 101 && r.b == 102 && r.c == 103 && r.d == 104.5);
    /* By value: the callee scribbled on its copy only. */
    CHECK(x.a == 1 && x.b == 2 && x.c == 3 && x.d == 4.5);
#if defined(FFI_VERSION_NUMBER) && FFI_VERSION_NUMBER >= 30700
    /* libffi 3.7 stopped ffi_call from replacing avalue[i] with its own copy's address. */
    CHECK(av[0] == av_before[0] && av[1] == av_before[1]);
#else
    (void)av_before;
#endif
  }
  {
    struct l3 x = {7, 8, 9}, r;
    ffi_type *a[1] = {&l3_t};
    void *av[1] = {&x};
    call(&l3_t, 1, a, FFI_FN(tr_l3), &r, av);
    CHECK(r.a == 9 && r.b == 8 && r.c == 7);
  }
  {
    struct outer x = {{'a', 1.5}, 10, {1, 2}}, r;
    ffi_type *a[1] = {&outer_t};
    void *av[1] = {&x};
    call(&outer_t, 1, a, FFI_FN(tr_outer), &r, av);
    CHECK(r.in.a == 'b' && r.in.b == 3.0 && r.c == 9 && r.arr[0] == 11 && r.arr[1] == 22);
  }
}

static void test_register_exhaustion(void) {
  {
    long x = 1, y = 1000;
    struct ll a = {2, 3}, b = {4, 5}, c = {6, 7};
    ffi_type *t[5] = {&ffi_type_slong, &ll_t, &ll_t, &ll_t, &ffi_type_slong};
    void *av[5] = {&x, &a, &b, &c, &y};
    long r = 0;
    call(&ffi_type_slong, 5, t, FFI_FN(gpr_spill), &r, av);
    CHECK_INT(r, gpr_spill(x, a, b, c, y));
  }
  {
    struct dd a = {1, 2}, b = {3, 4}, c = {5, 6}, d = {8, 9};
    double x = 7, y = 10;
    ffi_type *t[6] = {&dd_t, &dd_t, &dd_t, &ffi_type_double, &dd_t, &ffi_type_double};
    void *av[6] = {&a, &b, &c, &x, &d, &y};
    double r = 0;
    call(&ffi_type_double, 6, t, FFI_FN(sse_spill), &r, av);
    CHECK(r == sse_spill(a, b, c, x, d, y));
  }
#if defined(FFI_VERSION_NUMBER)
  /* Only libffi >= 3.4.7 gets this right; ffi.h has FFI_VERSION_NUMBER since 3.5. */
  {
    int n = 1;
    struct ld a = {1, 0.5}, b = {2, 0.25}, c = {3, 0.125}, d = {4, 1.5}, e = {5, 2.5};
    ffi_type *t[6] = {&ffi_type_sint, &ld_t, &ld_t, &ld_t, &ld_t, &ld_t};
    void *av[6] = {&n, &a, &b, &c, &d, &e};
    double r = 0;
    call(&ffi_type_double, 6, t, FFI_FN(sixth_gpr), &r, av);
    CHECK(r == sixth_gpr(n, a, b, c, d, e));
  }
#endif
}

/* Types laid out by the program (ctypes fills in size and alignment itself). */
static void test_prelaid_types(void) {
  static ffi_type *el[] = {&ffi_type_double, &ffi_type_schar, NULL};
  ffi_type t = {sizeof(struct dc), _Alignof(struct dc), FFI_TYPE_STRUCT, el};
  struct dc x = {1.5, 'a'}, r = {0, 0};
  ffi_type *a[1] = {&t};
  void *av[1] = {&x};
  call(&t, 1, a, FFI_FN(tr_dc), &r, av);
  CHECK(r.d == 4.5 && r.c == 'b');
  CHECK_INT(t.size, sizeof(struct dc));
  CHECK_INT(t.alignment, _Alignof(struct dc));

  static ffi_type *bel[] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong,
                            &ffi_type_double, NULL};
  ffi_type bt = {sizeof(struct big), _Alignof(struct big), FFI_TYPE_STRUCT, bel};
  struct big bx = {1, 2, 3, 0.5}, br;
  long k = 1;
  ffi_type *ba[2] = {&bt, &ffi_type_slong};
  void *bav[2] = {&bx, &k};
  memset(&br, 0, sizeof br);
  call(&bt, 2, ba, FFI_FN(tr_big), &br, bav);
  CHECK(br.a == 2 && br.b == 3 && br.c == 4 && br.d == 1.5);
}

int main(void) {
  test_layout();
  test_prelaid_types();
  test_small_structs();
  test_sixteen_byte_structs();
  test_memory_structs();
  test_register_exhaustion();
  return finish("structs");
}
