/* The C peer of the dynamic layer's execution tests (tests/dynamic_*.rs).
 *
 * For every signature there is
 * - a reference function `dyn_<op>_<abi>`, which the tests call through a Cif and compare
 *   with a Rust mirror of the same formula (test-support/src/dynamic.rs);
 * - a checker `dyn_check_<op>_<abi>(cb)`, which calls `cb` (a dynamic closure implementing
 *   the Rust mirror, with the signature of `dyn_<op>`) with fixed inputs and compares every
 *   result with the reference function's. It returns 0, or the 1-based number of the first
 *   mismatching input.
 *
 * Each exists once per x86_64 calling convention: `_sysv` (System V) and `_win64` (gcc's
 * `ms_abi`). The per-convention part at the end of this file is written once and compiled
 * twice: the file includes itself with ABI and FN() defined for each convention. Checkers
 * (and dyn_call_raw) use their suite's convention too (CHECK_ABI), so that no C function
 * here calls across conventions: mingw-w64 gcc 12 dies with an internal compiler error
 * (choose_baseaddr, config/i386/i386.cc:7058) on ms_abi code that calls sysv_abi functions
 * with __int128 arguments, and ms_abi is the default on Windows. Only the callback a checker
 * is given (a dynamic closure) differs from the reference function.
 *
 * x86_64 only: on i686 this file compiles to nothing. */
#if defined(__x86_64__)
#ifndef DYN_PASS

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* 8 bytes, SSE. Win64: by value in a GPR. */
typedef struct { float a, b; } dyn_ff;
/* 16 bytes, SSE then INTEGER. Win64: by reference. */
typedef struct { double d; int32_t i; } dyn_di;
/* 16 bytes, INTEGER then SSE. */
typedef struct { int32_t i; double d; } dyn_id;
/* 3 bytes, INTEGER. Win64: an odd size, by reference. */
typedef struct { int8_t a, b, c; } dyn_ccc;
/* 12 bytes, SSE then SSE (4 bytes). */
typedef struct { float a, b, c; } dyn_fff;
/* 16 bytes, SSE then SSE. */
typedef struct { double a, b; } dyn_dd;
/* 24 bytes: memory (hidden pointer when returned). */
typedef struct { double d; int32_t i; float f; uint8_t b; } dyn_difb;
/* 40 bytes, an array member: memory. */
typedef struct { int64_t v[5]; } dyn_big;
/* 12 bytes, a nested struct: SSE (both floats) then INTEGER. */
typedef struct { dyn_ff in; int32_t n; } dyn_nest;
/* 16 bytes, an array member: SSE, then INTEGER (f[2] merged with n). */
typedef struct { float f[3]; int32_t n; } dyn_farr;
/* 16 bytes, a union member: INTEGER (tag + union of float and int) then SSE. */
typedef struct { uint8_t tag; union { float f; uint32_t u; } v; double d; } dyn_uni;
/* 16 bytes, two levels of nesting: INTEGER (int16 + float) then SSE. */
typedef struct { struct { struct { int16_t s; } in; float f; } mid; double d; } dyn_deep;
/* 16 bytes, INTEGER then INTEGER: needs two GPRs. */
typedef struct { int64_t a, b; } dyn_ll;

static int eq_ff(dyn_ff x, dyn_ff y) { return x.a == y.a && x.b == y.b; }
static int eq_di(dyn_di x, dyn_di y) { return x.d == y.d && x.i == y.i; }
static int eq_id(dyn_id x, dyn_id y) { return x.i == y.i && x.d == y.d; }
static int eq_ccc(dyn_ccc x, dyn_ccc y) { return x.a == y.a && x.b == y.b && x.c == y.c; }
static int eq_fff(dyn_fff x, dyn_fff y) { return x.a == y.a && x.b == y.b && x.c == y.c; }
static int eq_dd(dyn_dd x, dyn_dd y) { return x.a == y.a && x.b == y.b; }
static int eq_difb(dyn_difb x, dyn_difb y) {
    return x.d == y.d && x.i == y.i && x.f == y.f && x.b == y.b;
}
static int eq_big(dyn_big x, dyn_big y) {
    for (int j = 0; j < 5; j++) {
        if (x.v[j] != y.v[j]) return 0;
    }
    return 1;
}
static int eq_nest(dyn_nest x, dyn_nest y) { return eq_ff(x.in, y.in) && x.n == y.n; }
static int eq_farr(dyn_farr x, dyn_farr y) {
    return x.f[0] == y.f[0] && x.f[1] == y.f[1] && x.f[2] == y.f[2] && x.n == y.n;
}
static int eq_uni(dyn_uni x, dyn_uni y) {
    return x.tag == y.tag && x.v.u == y.v.u && x.d == y.d;
}
static int eq_deep(dyn_deep x, dyn_deep y) {
    return x.mid.in.s == y.mid.in.s && x.mid.f == y.mid.f && x.d == y.d;
}
static int eq_ll(dyn_ll x, dyn_ll y) { return x.a == y.a && x.b == y.b; }

/* Digests for dyn_structs: every field with its own weight. */
static double dg_ff(dyn_ff x) { return x.a + 2.0 * x.b; }
static double dg_di(dyn_di x) { return x.d + 2.0 * x.i; }
static double dg_id(dyn_id x) { return x.i + 2.0 * x.d; }
static double dg_ccc(dyn_ccc x) { return x.a + 2.0 * x.b + 3.0 * x.c; }
static double dg_fff(dyn_fff x) { return x.a + 2.0 * x.b + 3.0 * x.c; }
static double dg_dd(dyn_dd x) { return x.a + 2.0 * x.b; }
static double dg_difb(dyn_difb x) { return x.d + 2.0 * x.i + 3.0 * x.f + 4.0 * x.b; }
static double dg_big(dyn_big x) {
    double s = 0;
    for (int j = 0; j < 5; j++) s += (j + 1) * (double)x.v[j];
    return s;
}
static double dg_nest(dyn_nest x) { return x.in.a + 2.0 * x.in.b + 3.0 * x.n; }
static double dg_farr(dyn_farr x) {
    return x.f[0] + 2.0 * x.f[1] + 3.0 * x.f[2] + 4.0 * x.n;
}
static double dg_uni(dyn_uni x) { return x.tag + 2.0 * x.v.u + 3.0 * x.d; }
static double dg_deep(dyn_deep x) { return x.mid.in.s + 2.0 * x.mid.f + 3.0 * x.d; }
static double dg_ll(dyn_ll x) { return (double)x.a + 2.0 * (double)x.b; }

/* Sizes and alignments, for comparing the Rust layouts with the C compiler's. */
struct dyn_layout_entry { const char *name; size_t size, align; };
#define LAYOUT(T) { #T, sizeof(T), _Alignof(T) }
static const struct dyn_layout_entry layouts[] = {
    LAYOUT(dyn_ff), LAYOUT(dyn_di), LAYOUT(dyn_id), LAYOUT(dyn_ccc), LAYOUT(dyn_fff),
    LAYOUT(dyn_dd), LAYOUT(dyn_difb), LAYOUT(dyn_big), LAYOUT(dyn_nest), LAYOUT(dyn_farr),
    LAYOUT(dyn_uni), LAYOUT(dyn_deep), LAYOUT(dyn_ll), LAYOUT(long double),
    LAYOUT(_Complex float), LAYOUT(_Complex double), LAYOUT(_Complex long double),
    LAYOUT(__int128),
};
#undef LAYOUT

/* Entry `index` of the layout table; 0 past its end. */
int dyn_layout(size_t index, const char **name, size_t *size, size_t *align) {
    if (index >= sizeof layouts / sizeof layouts[0]) return 0;
    *name = layouts[index].name;
    *size = layouts[index].size;
    *align = layouts[index].align;
    return 1;
}

/* `uint64_t dyn_raw_<abi>(uint64_t)`: returns the first integer argument register (rdi,
 * resp. rcx) exactly as it was set, all 64 bits. Called through a Cif with a narrower
 * argument type it shows how the argument was extended; with a narrower return type it
 * returns a register whose upper bits are not an extension of the low ones. Written in
 * assembly so that no compiler normalises either. */
#if defined(_WIN32)
/* COFF: a symbol's type is `.def/.scl 2 (external)/.type 32 (function)/.endef`; no .size. */
#define DYN_ASM_FUNCTION(name) ".globl " #name "\n.def " #name "; .scl 2; .type 32; .endef\n" #name ":\n"
#define DYN_ASM_END(name) ""
#else
#define DYN_ASM_FUNCTION(name) ".globl " #name "\n.type " #name ", @function\n" #name ":\n"
#define DYN_ASM_END(name) ".size " #name ", . - " #name "\n"
#endif
__asm__(".text\n"
        DYN_ASM_FUNCTION(dyn_raw_sysv)
        "    movq %rdi, %rax\n"
        "    ret\n"
        DYN_ASM_END(dyn_raw_sysv)
        DYN_ASM_FUNCTION(dyn_raw_win64)
        "    movq %rcx, %rax\n"
        "    ret\n"
        DYN_ASM_END(dyn_raw_win64));
#undef DYN_ASM_FUNCTION
#undef DYN_ASM_END


static int64_t counted_calls;

/* Counts its calls (see dyn_counter); returns `x + 1`. */
int64_t dyn_counted(int64_t x) {
    __atomic_fetch_add(&counted_calls, 1, __ATOMIC_SEQ_CST);
    return x + 1;
}

/* How often dyn_counted ran. */
int64_t dyn_counter(void) { return __atomic_load_n(&counted_calls, __ATOMIC_SEQ_CST); }

#define DYN_PASS 1

#define ABI __attribute__((sysv_abi))
/* Checkers and dyn_call_raw: the suite's convention (see the top of the file). */
#define CHECK_ABI ABI
#define FN(name) name##_sysv
#if defined(_WIN32) /* the host's va_list is Win64's: use gcc's System V one explicitly */
#define DYN_VA_LIST __builtin_sysv_va_list
#define DYN_VA_START __builtin_sysv_va_start
#define DYN_VA_END __builtin_sysv_va_end
#else
#define DYN_VA_LIST va_list
#define DYN_VA_START va_start
#define DYN_VA_END va_end
#endif
#include "dynamic.c"
#undef ABI
#undef CHECK_ABI
#undef FN
#undef DYN_VA_LIST
#undef DYN_VA_START
#undef DYN_VA_END

#define ABI __attribute__((ms_abi))
#define CHECK_ABI ABI
#define FN(name) name##_win64
#define DYN_VA_LIST __builtin_ms_va_list
#define DYN_VA_START __builtin_ms_va_start
#define DYN_VA_END __builtin_ms_va_end
#include "dynamic.c"
#undef ABI
#undef CHECK_ABI
#undef FN
#undef DYN_VA_LIST
#undef DYN_VA_START
#undef DYN_VA_END

#else /* DYN_PASS: the per-convention part, compiled once for each ABI. */

/* ---- Scalars ---------------------------------------------------------------------------- */

/* `T dyn_sub_<t>(T a, T b)`: `a - b`, wrapping for integers (computed in the unsigned type
 * U). The checker runs it over the listed pairs. */
#define SUB(T, U, t, ...)                                                                   \
    ABI T FN(dyn_sub_##t)(T a, T b) { return (T)((U)a - (U)b); }                            \
    CHECK_ABI int FN(dyn_check_sub_##t)(__typeof__(&FN(dyn_sub_##t)) cb) {                            \
        static const T in[][2] = {__VA_ARGS__};                                             \
        for (int j = 0; j < (int)(sizeof in / sizeof in[0]); j++) {                         \
            if (cb(in[j][0], in[j][1]) != FN(dyn_sub_##t)(in[j][0], in[j][1])) return j + 1; \
        }                                                                                   \
        return 0;                                                                           \
    }

SUB(uint8_t, uint8_t, u8, {200, 50}, {0, 1}, {255, 0}, {1, 255})
SUB(int8_t, int32_t, i8, {-100, 27}, {127, -1}, {-128, 1}, {5, -5}, {-1, 0})
SUB(uint16_t, uint16_t, u16, {60000, 1}, {0, 2}, {0x8000, 0x7fff})
SUB(int16_t, int32_t, i16, {-30000, 2768}, {32767, -1}, {-2, 0})
SUB(uint32_t, uint32_t, u32, {4000000000u, 1}, {0, 3}, {0x80000000u, 0})
SUB(int32_t, uint32_t, i32, {-2000000000, 147483648}, {INT32_MAX, -1}, {-7, 0})
SUB(uint64_t, uint64_t, u64, {0x8000000000000000u, 1}, {0, 5}, {12345678901234ull, 1})
SUB(int64_t, uint64_t, i64, {INT64_MIN, 1}, {-5, 0}, {0x123456789ll, -0x987654321ll})
SUB(unsigned __int128, unsigned __int128, u128,
    {(unsigned __int128)1 << 127, 1},
    {0, 1},
    {((unsigned __int128)0x0123456789abcdefull << 64) | 0xfedcba9876543210ull, 0x10})
SUB(__int128, unsigned __int128, i128,
    {-((__int128)1 << 100), 1},
    {(__int128)-3, (__int128)4},
    {((__int128)0x0123456789abcdefll << 64) | 0xfedcba9876543210ull, -((__int128)1 << 64)})
SUB(float, float, f32, {1.5f, 0.25f}, {-3.0f, 4.5f}, {1e30f, -1e30f})
SUB(double, double, f64, {1.5, 0.25}, {-3.0, 4.5}, {1e300, -1e300}, {0.1, 0.2})
SUB(long double, long double, ld, {1.5L, -2.25L}, {-1024.0L, 0.125L}, {3.0L, 3.0L})
#undef SUB

/* `(char *)p + off`. */
ABI void *FN(dyn_ptr_add)(void *p, int64_t off) { return (char *)p + off; }
CHECK_ABI int FN(dyn_check_ptr_add)(__typeof__(&FN(dyn_ptr_add)) cb) {
    static char buf[64];
    if (cb(buf, 17) != buf + 17) return 1;
    if (cb(buf + 40, -40) != buf) return 2;
    if (cb(NULL, 0) != NULL) return 3;
    return 0;
}

/* Every integer kind and a pointer: the weighted sum of the values (`*p` for the pointer),
 * wrapping. */
ABI int64_t FN(dyn_ints)(uint8_t a, int8_t b, uint16_t c, int16_t d, uint32_t e, int32_t f,
                         uint64_t g, int64_t h, const int64_t *p) {
    uint64_t s = a;
    s += 2 * (uint64_t)(int64_t)b;
    s += 3 * (uint64_t)c;
    s += 4 * (uint64_t)(int64_t)d;
    s += 5 * (uint64_t)e;
    s += 6 * (uint64_t)(int64_t)f;
    s += 7 * g;
    s += 8 * (uint64_t)h;
    s += 9 * (uint64_t)*p;
    return (int64_t)s;
}
CHECK_ABI int FN(dyn_check_ints)(__typeof__(&FN(dyn_ints)) cb) {
    static const int64_t p = -1000000007;
    if (cb(250, -7, 65000, -32768, 4000000000u, -2, 1ull << 63, -3, &p) !=
        FN(dyn_ints)(250, -7, 65000, -32768, 4000000000u, -2, 1ull << 63, -3, &p))
        return 1;
    if (cb(0, 127, 0, 32767, 0, INT32_MIN, 0, INT64_MAX, &p) !=
        FN(dyn_ints)(0, 127, 0, 32767, 0, INT32_MIN, 0, INT64_MAX, &p))
        return 2;
    return 0;
}

/* `x + 2^-60`: for x in [1, 2) the result needs the x87 format's 64-bit mantissa. */
ABI long double FN(dyn_ld_bump)(long double x) { return x + 0x1p-60L; }
CHECK_ABI int FN(dyn_check_ld_bump)(__typeof__(&FN(dyn_ld_bump)) cb) {
    static const long double in[] = {1.0L, 1.0L + 0x1p-62L, 1.5L + 0x1p-63L};
    for (int j = 0; j < 3; j++) {
        if (cb(in[j]) != FN(dyn_ld_bump)(in[j])) return j + 1;
    }
    return 0;
}

/* Counts its calls in `*calls` and returns 2.5. System V returns it on the x87 stack: a
 * caller that does not pop it overflows the stack after eight calls. */
ABI long double FN(dyn_ld_count)(int64_t *calls) {
    ++*calls;
    return 2.5L;
}
CHECK_ABI int FN(dyn_check_ld_count)(__typeof__(&FN(dyn_ld_count)) cb) {
    int64_t calls = 0;
    long double sum = 0;
    for (int j = 0; j < 20; j++) sum += cb(&calls);
    if (calls != 20) return 1;
    if (sum != 50.0L) return 2;
    return 0;
}

/* ---- Complex ---------------------------------------------------------------------------- */

#define CMUL(T, t, ...)                                                                     \
    ABI _Complex T FN(dyn_cmul_##t)(_Complex T a, _Complex T b) { return a * b; }          \
    CHECK_ABI int FN(dyn_check_cmul_##t)(__typeof__(&FN(dyn_cmul_##t)) cb) {                          \
        static const T in[][4] = {__VA_ARGS__};                                             \
        for (int j = 0; j < (int)(sizeof in / sizeof in[0]); j++) {                         \
            _Complex T a = __builtin_complex(in[j][0], in[j][1]);                           \
            _Complex T b = __builtin_complex(in[j][2], in[j][3]);                           \
            _Complex T got = cb(a, b), want = FN(dyn_cmul_##t)(a, b);                       \
            if (__real__ got != __real__ want || __imag__ got != __imag__ want) return j + 1; \
        }                                                                                   \
        return 0;                                                                           \
    }

CMUL(float, f, {1.5f, -2.0f, 3.0f, 0.5f}, {0.0f, 1.0f, 0.0f, 1.0f})
CMUL(double, d, {1.5, -2.0, 3.0, 0.5}, {-4.0, 0.25, 8.0, -16.0})
CMUL(long double, ld, {1.5L, -2.0L, 3.0L, 0.5L}, {-4.0L, 0.25L, 8.0L, -16.0L})
#undef CMUL

/* ---- Structs ---------------------------------------------------------------------------- */

/* `S dyn_<s>_op(S x, int32_t k)`: every field of the result depends on a different field of
 * `x` and on `k`, so a field in the wrong place shows. The checker runs it over the listed
 * values with k = -2, 1, 4, ... */
#define OP(S, s, ...)                                                                       \
    CHECK_ABI int FN(dyn_check_##s##_op)(__typeof__(&FN(dyn_##s##_op)) cb) {                          \
        static const S in[] = {__VA_ARGS__};                                                \
        for (int j = 0; j < (int)(sizeof in / sizeof in[0]); j++) {                         \
            int32_t k = 3 * j - 2;                                                          \
            if (!eq_##s(cb(in[j], k), FN(dyn_##s##_op)(in[j], k))) return j + 1;            \
        }                                                                                   \
        return 0;                                                                           \
    }

ABI dyn_ff FN(dyn_ff_op)(dyn_ff x, int32_t k) {
    dyn_ff r = {x.b + (float)k, x.a - (float)k};
    return r;
}
OP(dyn_ff, ff, {1.5f, -2.25f}, {0.0f, 1e10f})

ABI dyn_di FN(dyn_di_op)(dyn_di x, int32_t k) {
    dyn_di r = {x.d + (double)x.i, x.i - k};
    return r;
}
OP(dyn_di, di, {1.5, -7}, {-1e100, 1000000})

ABI dyn_id FN(dyn_id_op)(dyn_id x, int32_t k) {
    dyn_id r = {x.i + k, x.d * (double)k};
    return r;
}
OP(dyn_id, id, {-7, 1.5}, {1000000, -0.25})

ABI dyn_ccc FN(dyn_ccc_op)(dyn_ccc x, int32_t k) {
    dyn_ccc r = {(int8_t)(x.b + k), (int8_t)(x.c - k), (int8_t)(x.a ^ k)};
    return r;
}
OP(dyn_ccc, ccc, {1, -2, 3}, {-128, 127, 0}, {100, -100, 50})

ABI dyn_fff FN(dyn_fff_op)(dyn_fff x, int32_t k) {
    dyn_fff r = {x.c + (float)k, x.a + (float)k, x.b - (float)k};
    return r;
}
OP(dyn_fff, fff, {1.5f, -2.5f, 4.0f}, {0.125f, 1e20f, -3.0f})

ABI dyn_dd FN(dyn_dd_op)(dyn_dd x, int32_t k) {
    dyn_dd r = {x.b * (double)k, x.a + (double)k};
    return r;
}
OP(dyn_dd, dd, {1.5, -2.5}, {1e200, -0.125})

ABI dyn_difb FN(dyn_difb_op)(dyn_difb x, int32_t k) {
    dyn_difb r = {x.d + (double)x.f, x.i + k, x.f * 2.0f, (uint8_t)(x.b + k)};
    return r;
}
OP(dyn_difb, difb, {1.5, -7, 0.25f, 200}, {-1e100, 123456, -3.5f, 1})

ABI dyn_big FN(dyn_big_op)(dyn_big x, int32_t k) {
    dyn_big r;
    for (int j = 0; j < 5; j++) r.v[j] = (int64_t)((uint64_t)x.v[4 - j] + (uint64_t)(k * j));
    return r;
}
OP(dyn_big, big, {{1, -2, 3, -4, 5}}, {{INT64_MIN, INT64_MAX, 0, 1ll << 40, -(1ll << 40)}})

ABI dyn_nest FN(dyn_nest_op)(dyn_nest x, int32_t k) {
    dyn_nest r = {{x.in.b, x.in.a + (float)k}, x.n - k};
    return r;
}
OP(dyn_nest, nest, {{1.5f, -2.5f}, 7}, {{0.0f, 3e10f}, -100000})

ABI dyn_farr FN(dyn_farr_op)(dyn_farr x, int32_t k) {
    dyn_farr r = {{x.f[2] + (float)k, x.f[1] + (float)k, x.f[0] + (float)k}, x.n + k};
    return r;
}
OP(dyn_farr, farr, {{1.5f, -2.5f, 8.0f}, 9}, {{0.0f, 1e-3f, -1e3f}, -9})

ABI dyn_uni FN(dyn_uni_op)(dyn_uni x, int32_t k) {
    dyn_uni r;
    r.tag = (uint8_t)(x.tag + 1);
    r.v.u = x.v.u ^ (uint32_t)k;
    r.d = x.d - (double)k;
    return r;
}
OP(dyn_uni, uni, {255, {.u = 0xdeadbeef}, 1.5}, {3, {.f = 1.0f}, -2.5})

ABI dyn_deep FN(dyn_deep_op)(dyn_deep x, int32_t k) {
    dyn_deep r = {{{(int16_t)(x.mid.in.s + k)}, x.mid.f * (float)k}, x.d + x.mid.in.s};
    return r;
}
OP(dyn_deep, deep, {{{-300}, 1.5f}, 2.5}, {{{32767}, -0.5f}, -1e10})

ABI dyn_ll FN(dyn_ll_op)(dyn_ll x, int32_t k) {
    dyn_ll r = {(int64_t)((uint64_t)x.b - (uint64_t)(int64_t)k),
                (int64_t)((uint64_t)x.a + (uint64_t)(int64_t)k)};
    return r;
}
OP(dyn_ll, ll, {1, -2}, {INT64_MAX, INT64_MIN})
#undef OP

/* All the structs at once (the registers run out, later ones go to the stack): the sum of
 * their digests, weighted by position. */
ABI double FN(dyn_structs)(dyn_ff a, dyn_di b, dyn_id c, dyn_ccc d, dyn_fff e, dyn_dd f,
                           dyn_difb g, dyn_big h, dyn_nest i, dyn_farr j, dyn_uni k,
                           dyn_deep l, dyn_ll m) {
    double s = 0;
    s += 1 * dg_ff(a);
    s += 2 * dg_di(b);
    s += 3 * dg_id(c);
    s += 4 * dg_ccc(d);
    s += 5 * dg_fff(e);
    s += 6 * dg_dd(f);
    s += 7 * dg_difb(g);
    s += 8 * dg_big(h);
    s += 9 * dg_nest(i);
    s += 10 * dg_farr(j);
    s += 11 * dg_uni(k);
    s += 12 * dg_deep(l);
    s += 13 * dg_ll(m);
    return s;
}
CHECK_ABI int FN(dyn_check_structs)(__typeof__(&FN(dyn_structs)) cb) {
    dyn_ff a = {1.5f, -2.0f};
    dyn_di b = {0.25, -3};
    dyn_id c = {4, -0.5};
    dyn_ccc d = {-5, 6, -7};
    dyn_fff e = {8.0f, -9.5f, 10.0f};
    dyn_dd f = {-11.0, 12.25};
    dyn_difb g = {13.0, -14, 15.5f, 16};
    dyn_big h = {{17, -18, 19, -20, 21}};
    dyn_nest i = {{22.0f, -23.0f}, 24};
    dyn_farr j = {{25.0f, 26.5f, -27.0f}, 28};
    dyn_uni k = {29, {.u = 30}, -31.0};
    dyn_deep l = {{{-32}, 33.0f}, 34.5};
    dyn_ll m = {-35, 36};
    return cb(a, b, c, d, e, f, g, h, i, j, k, l, m) !=
           FN(dyn_structs)(a, b, c, d, e, f, g, h, i, j, k, l, m);
}

/* ---- Register exhaustion and the stack -------------------------------------------------- */

/* 22 arguments, 11 of the integer class and 11 of the SSE class, interleaved: both register
 * files overflow onto the stack. The weighted sum of the values (`*p8` for the pointer). */
ABI double FN(dyn_many)(int8_t a0, double d0, uint16_t a1, float f1, int32_t a2, double d2,
                        int64_t a3, double d3, uint8_t a4, double d4, int16_t a5, float f5,
                        uint32_t a6, double d6, int64_t a7, double d7, const int64_t *p8,
                        double d8, int32_t a9, double d9, float f10, int64_t a10) {
    double s = 0;
    s += 1 * (double)a0;
    s += 2 * d0;
    s += 3 * (double)a1;
    s += 4 * (double)f1;
    s += 5 * (double)a2;
    s += 6 * d2;
    s += 7 * (double)a3;
    s += 8 * d3;
    s += 9 * (double)a4;
    s += 10 * d4;
    s += 11 * (double)a5;
    s += 12 * (double)f5;
    s += 13 * (double)a6;
    s += 14 * d6;
    s += 15 * (double)a7;
    s += 16 * d7;
    s += 17 * (double)*p8;
    s += 18 * d8;
    s += 19 * (double)a9;
    s += 20 * d9;
    s += 21 * (double)f10;
    s += 22 * (double)a10;
    return s;
}
CHECK_ABI int FN(dyn_check_many)(__typeof__(&FN(dyn_many)) cb) {
    static const int64_t p = 1234567;
    double got = cb(-1, 0.5, 60000, -1.25f, -3, 3.5, 1ll << 40, -4.5, 200, 5.5, -6, 6.25f,
                    4000000000u, -7.5, -(1ll << 35), 8.5, &p, -9.5, 10, 10.5, -11.75f, 12);
    double want = FN(dyn_many)(-1, 0.5, 60000, -1.25f, -3, 3.5, 1ll << 40, -4.5, 200, 5.5, -6,
                               6.25f, 4000000000u, -7.5, -(1ll << 35), 8.5, &p, -9.5, 10,
                               10.5, -11.75f, 12);
    return got != want;
}

/* Integers and floats interleaved (Win64: a float's register depends on its position). */
ABI double FN(dyn_mixed)(int32_t a, double b, int32_t c, float d, double e, float f,
                         int8_t g, double h) {
    return a + 2 * b + 3.0 * c + 4.0 * d + 5 * e + 6.0 * f + 7.0 * g + 8 * h;
}
CHECK_ABI int FN(dyn_check_mixed)(__typeof__(&FN(dyn_mixed)) cb) {
    return cb(-1, 2.5, 3, -4.25f, 5.5, 6.75f, -7, 8.125) !=
           FN(dyn_mixed)(-1, 2.5, 3, -4.25f, 5.5, 6.75f, -7, 8.125);
}

/* Five GPRs taken, the struct needs two: it goes whole to the stack, and `f` still takes
 * the sixth GPR (System V). a + 2b + .. + 5e + 6 s.a + 7 s.b + 8f, wrapping. */
ABI int64_t FN(dyn_spill_int)(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
                              dyn_ll s, int64_t f) {
    uint64_t r = (uint64_t)a + 2 * (uint64_t)b + 3 * (uint64_t)c + 4 * (uint64_t)d +
                 5 * (uint64_t)e + 6 * (uint64_t)s.a + 7 * (uint64_t)s.b + 8 * (uint64_t)f;
    return (int64_t)r;
}
CHECK_ABI int FN(dyn_check_spill_int)(__typeof__(&FN(dyn_spill_int)) cb) {
    dyn_ll s = {-1000, 1ll << 50};
    return cb(1, -2, 3, -4, 5, s, -6) != FN(dyn_spill_int)(1, -2, 3, -4, 5, s, -6);
}

/* The same with SSE registers: seven doubles, a struct of two, and one more double that
 * still takes xmm7. */
ABI double FN(dyn_spill_sse)(double a, double b, double c, double d, double e, double f,
                             double g, dyn_dd s, double h) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * s.a + 9 * s.b + 10 * h;
}
CHECK_ABI int FN(dyn_check_spill_sse)(__typeof__(&FN(dyn_spill_sse)) cb) {
    dyn_dd s = {-0.5, 1024.25};
    return cb(1, -2, 3, -4, 5, -6, 7, s, -8.5) !=
           FN(dyn_spill_sse)(1, -2, 3, -4, 5, -6, 7, s, -8.5);
}

/* 16-byte values on the stack (System V): `x` needs two GPRs with one left, so it goes to
 * the stack at offset 0; `f` takes r9; `g` is at 16; `y` (x87, always memory) is aligned up
 * to 32; `z` at 48; `h` at 64. The weighted sum of the values as unsigned __int128. */
ABI unsigned __int128 FN(dyn_stack_align)(int64_t a, int64_t b, int64_t c, int64_t d,
                                          int64_t e, __int128 x, int64_t f, int64_t g,
                                          long double y, __int128 z, int32_t h) {
    typedef unsigned __int128 u;
    u s = (u)a + 2 * (u)b + 3 * (u)c + 4 * (u)d + 5 * (u)e;
    s += 6 * (u)x + 7 * (u)f + 8 * (u)g;
    s += 9 * (u)(int64_t)y + 10 * (u)z + 11 * (u)h;
    return s;
}
CHECK_ABI int FN(dyn_check_stack_align)(__typeof__(&FN(dyn_stack_align)) cb) {
    __int128 x = -((__int128)0x123456789abcdefll << 60);
    __int128 z = ((__int128)1 << 120) + 77;
    return cb(1, -2, 3, -4, 5, x, -6, 7, -12345.0L, z, -8) !=
           FN(dyn_stack_align)(1, -2, 3, -4, 5, x, -6, 7, -12345.0L, z, -8);
}

/* ---- void, and results through a hidden pointer ----------------------------------------- */

/* `*dst = 2v + 1`. */
ABI void FN(dyn_store)(int64_t *dst, int64_t v) { *dst = (int64_t)(2 * (uint64_t)v + 1); }
CHECK_ABI int FN(dyn_check_store)(__typeof__(&FN(dyn_store)) cb) {
    int64_t x = 0;
    cb(&x, 20);
    if (x != 41) return 1;
    cb(&x, -21);
    if (x != -41) return 2;
    return 0;
}

/* Counts its calls in `*calls`; returns {seed, 2 seed, .., 5 seed}, through a hidden
 * pointer. */
ABI dyn_big FN(dyn_big_make)(int64_t seed, int64_t *calls) {
    dyn_big r;
    ++*calls;
    for (int j = 0; j < 5; j++) r.v[j] = (int64_t)((uint64_t)seed * (uint64_t)(j + 1));
    return r;
}
CHECK_ABI int FN(dyn_check_big_make)(__typeof__(&FN(dyn_big_make)) cb) {
    int64_t calls = 0, ref_calls = 0;
    if (!eq_big(cb(7, &calls), FN(dyn_big_make)(7, &ref_calls))) return 1;
    if (!eq_big(cb(-3, &calls), FN(dyn_big_make)(-3, &ref_calls))) return 2;
    if (calls != 2) return 3;
    return 0;
}

/* ---- Variadic --------------------------------------------------------------------------- */

/* Reads one variable argument per character of `types` and returns the sum of their values
 * weighted by position: 'i' int, 'u' unsigned, 'l' int64_t, 'd' double, 'L' long double,
 * 'p' const int64_t * (its target), 'f' dyn_ff (a + b), 's' dyn_di (d + i), 'b' dyn_big (the
 * sum of v).
 *
 * gcc's va_arg gets values larger than 8 bytes wrong in the convention that is not the
 * host's: on Linux, va_arg on a __builtin_ms_va_list reads them in place instead of through
 * the pointer the Win64 convention passes (gcc's own ms_abi callers pass the pointer); on
 * Windows (mingw-w64 gcc 12), va_arg of a 16-byte struct on a __builtin_sysv_va_list
 * crashes. So 'L', 's' and 'b' are only used in the host's own convention. */
ABI double FN(dyn_va)(const char *types, ...) {
    DYN_VA_LIST ap;
    DYN_VA_START(ap, types);
    double s = 0;
    int k = 1;
    for (const char *t = types; *t; t++, k++) {
        double v = 0;
        switch (*t) {
        case 'i': v = va_arg(ap, int); break;
        case 'u': v = va_arg(ap, unsigned); break;
        case 'l': v = (double)va_arg(ap, int64_t); break;
        case 'd': v = va_arg(ap, double); break;
        case 'L': v = (double)va_arg(ap, long double); break;
        case 'p': v = (double)*va_arg(ap, const int64_t *); break;
        case 'f': {
            dyn_ff x = va_arg(ap, dyn_ff);
            v = (double)x.a + x.b;
            break;
        }
        case 's': {
            dyn_di x = va_arg(ap, dyn_di);
            v = x.d + x.i;
            break;
        }
        case 'b': {
            dyn_big x = va_arg(ap, dyn_big);
            for (int j = 0; j < 5; j++) v += (double)x.v[j];
            break;
        }
        default: v = 1e300; break;
        }
        s += k * v;
    }
    DYN_VA_END(ap);
    return s;
}

/* ---- Calling a closure with raw registers ----------------------------------------------- */

/* `cb(raw)`: lets a test pass a full 64-bit register to a closure that declares a narrower
 * argument, and see the full register the closure returns. */
CHECK_ABI uint64_t FN(dyn_call_raw)(uint64_t(ABI *cb)(uint64_t), uint64_t raw) { return cb(raw); }

#endif /* DYN_PASS */
#endif /* __x86_64__ */
