/* The aarch64 peer of tests/dynamic_aarch64.rs: callees for every AAPCS64 shape the
 * classifier distinguishes (called through Cifs), and callers that call a function pointer
 * of the same shape with fixed arguments (dynamic closures, checked on both sides).
 * Each formula is written out again in the Rust test. Empty on other targets. */

#if defined(__aarch64__)

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "vfmt.h"

typedef struct { float a; } F1;
typedef struct { float a, b; } F2;
typedef struct { float a, b, c; } F3;
typedef struct { float a, b, c, d; } F4;
typedef struct { double a; } D1;
typedef struct { double a[2]; } D2;
typedef struct { double a[2]; double b; } D3;
typedef struct { double a, b, c, d; } D4;
typedef struct { long double a, b; } L2;
typedef struct { float f; int32_t i; } FI;
typedef struct { uint8_t a, b, c; } S3;
typedef struct { int8_t c; int16_t s; int32_t i; double d; } Mix16;
typedef struct { __int128 v; } I128S;
typedef struct { int64_t v[3]; double d; } Big;

/* ---- integers ---- */

/* Weighted sum k * arg (k = 1..10), in wrapping 64-bit arithmetic. a8 and a9 are on the
 * stack. */
int64_t a64_ints(int8_t a0, uint8_t a1, int16_t a2, uint16_t a3, int32_t a4, uint32_t a5,
                 int64_t a6, uint64_t a7, int8_t a8, uint16_t a9) {
    uint64_t s = 0;
    s += 1 * (uint64_t)(int64_t)a0;
    s += 2 * (uint64_t)a1;
    s += 3 * (uint64_t)(int64_t)a2;
    s += 4 * (uint64_t)a3;
    s += 5 * (uint64_t)(int64_t)a4;
    s += 6 * (uint64_t)a5;
    s += 7 * (uint64_t)a6;
    s += 8 * a7;
    s += 9 * (uint64_t)(int64_t)a8;
    s += 10 * (uint64_t)a9;
    return (int64_t)s;
}

int8_t a64_ret_i8(int64_t x) { return (int8_t)x; }
uint8_t a64_ret_u8(int64_t x) { return (uint8_t)x; }
int16_t a64_ret_i16(int64_t x) { return (int16_t)x; }
uint16_t a64_ret_u16(int64_t x) { return (uint16_t)x; }
int32_t a64_ret_i32(int64_t x) { return (int32_t)x; }
uint32_t a64_ret_u32(int64_t x) { return (uint32_t)x; }
void *a64_ret_ptr(void *p, int64_t off) { return (char *)p + off; }

/* ---- floating point ---- */

/* Eight in v0-v7, then f (8-byte slot), g (16-aligned), h on the stack. */
double a64_fp(float a, double b, long double c, float d, double e0, double e1, double e2,
              double e3, float f, long double g, double h) {
    return a + 2 * b + 3 * (double)c + 4 * d + 5 * e0 + 6 * e1 + 7 * e2 + 8 * e3 + 9 * f +
           10 * (double)g + 11 * h;
}

long double a64_ld(long double a, long double b) { return a * 2 - b; }
float a64_ret_f(float x) { return x * 0.5f; }

/* ---- homogeneous aggregates ---- */

F1 a64_f1(F1 x) { F1 r = {x.a + 1}; return r; }
F2 a64_f2(F2 x) { F2 r = {x.b, x.a}; return r; }

/* Two floats in a union beside a padded one-float struct: no HFA, since padding at any
 * level disqualifies it (gcc's aapcs_vfp_sub_candidate), so u comes in x0 and the result
 * goes back in x0, not in s registers (k takes s0 either way). */
typedef struct { float x; } __attribute__((aligned(8))) PadF;
typedef union { float f[2]; PadF p; } UPad;
UPad a64_upad(float k, UPad u) { UPad r; r.f[0] = k * u.f[1]; r.f[1] = k + u.f[0]; return r; }
F3 a64_f3(F3 x, float k) { F3 r = {x.a * k, x.b * k, x.c * k}; return r; }
F4 a64_f4(F4 x, F4 y) { F4 r = {x.a + y.d, x.b + y.c, x.c + y.b, x.d + y.a}; return r; }
D1 a64_d1(D1 x) { D1 r = {-x.a}; return r; }
D2 a64_d2(D2 x) { D2 r = {{x.a[1], x.a[0]}}; return r; }
D3 a64_d3(D3 x, D1 y) { D3 r = {{x.a[0] * y.a, x.a[1] * y.a}, x.b * y.a}; return r; }
D4 a64_d4(D4 x) { D4 r = {x.d, x.c, x.b, x.a}; return r; }
L2 a64_l2(L2 x) { L2 r = {x.b * 2, x.a - 1}; return r; }
_Complex float a64_cf(_Complex float x) { return x * 2; }
_Complex double a64_cd(_Complex double x, double k) { return x * k; }

/* ---- small composites in x registers ---- */

/* r = {a.i + b.a, b.b * 2 + c.s, c.i - b.c, a.f * c.d} */
Mix16 a64_mix(FI a, S3 b, Mix16 c) {
    Mix16 r = {(int8_t)(a.i + b.a), (int16_t)(b.b * 2 + c.s), c.i - b.c, a.f * c.d};
    return r;
}
FI a64_fi(FI x) { FI r = {x.f * 3, x.i - 7}; return r; }
S3 a64_s3(S3 x) { S3 r = {x.c, x.b, x.a}; return r; }

/* __int128 in x2:x3 (even pair), then c in x4. */
__int128 a64_i128(int64_t a, __int128 b, int64_t c) { return b * 3 + a - c; }
/* A 16-aligned struct: even pair after a. */
I128S a64_i128s(int32_t a, I128S b) { I128S r = {b.v - a}; return r; }

/* ---- large composites: by reference, and returned through x8 ---- */

/* Changes its copy of x: the caller's value must not change. */
Big a64_big(Big x, int32_t k, Big y) {
    Big r;
    for (int i = 0; i < 3; i++) r.v[i] = x.v[i] * k + y.v[2 - i];
    r.d = x.d - y.d;
    x.v[0] = 0x7777;
    y.v[0] = 0x7777;
    return r;
}

/* ---- register exhaustion ---- */

/* f does not fit v6-v7: stack; `after` on the stack too. */
double a64_exh_v(double a0, double a1, double a2, double a3, double a4, double a5, F3 f,
                 double after) {
    return a0 + a1 + a2 + a3 + a4 + a5 + 10 * f.a + 100 * f.b + 1000 * f.c + 10000 * after;
}

/* m does not fit x7: stack; c on the stack too. */
int64_t a64_exh_x(int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4, int64_t a5,
                  int64_t a6, Mix16 m, int64_t c) {
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 * 2 + m.c * 10 + m.s * 100 + m.i * 1000 +
           (int64_t)m.d * 10000 + c * 100000;
}

/* __int128 after seven: the stack (16-aligned), then c after it. */
int64_t a64_exh_i128(int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4, int64_t a5,
                     int64_t a6, __int128 b, int64_t c) {
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + (int64_t)(b >> 64) * 3 + (int64_t)b * 5 + c * 7;
}

/* ---- variadic ---- */

/* `fmt` names each argument: the scalar letters of vfmt.h, and F = F3 (a + b + c), B = Big
 * (v[0] + v[1] + v[2] + d); each term times its position k = 1, 2, ... */
double a64_vfmt(const char *fmt, ...) {
    va_list ap;
    double sum = 0;
    int k = 1;
    va_start(ap, fmt);
    for (const char *c = fmt; *c; c++, k++) {
        double value;
        if (vfmt_scalar(*c, &ap, &value)) {
            sum += k * value;
            continue;
        }
        switch (*c) {
        case 'F': {
            F3 f = va_arg(ap, F3);
            sum += k * (double)(f.a + f.b + f.c);
            break;
        }
        case 'B': {
            Big b = va_arg(ap, Big);
            sum += k * (double)(b.v[0] + b.v[1] + b.v[2] + b.d);
            break;
        }
        }
    }
    va_end(ap);
    return sum;
}

/* ---- callers: call a closure with fixed arguments and return what it returned ---- */

int64_t a64_call_ints(int64_t (*fp)(int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t,
                                    int64_t, uint64_t, int8_t, uint16_t)) {
    return fp(-1, 200, -300, 60000, -70000, 4000000000u, -(1LL << 40), 1ULL << 63, -5, 65535);
}

/* The narrow results as C sees them (its own extension), combined. */
int64_t a64_call_narrow(int8_t (*a)(void), uint8_t (*b)(void), int16_t (*c)(void),
                        uint16_t (*d)(void), int32_t (*e)(void), uint32_t (*f)(void)) {
    return (int64_t)a() + (int64_t)b() * 1000 + (int64_t)c() * 1000000 + (int64_t)d() +
           (int64_t)e() * 10 + (int64_t)f();
}

double a64_call_fp(double (*fp)(float, double, long double, float, double, double, double,
                                double, float, long double, double)) {
    return fp(1.5f, -2.25, 3.0L, 0.125f, 5, 6, 7, 8, -9.5f, 0.75L, 11);
}

/* Returns whether the long double came back exactly (ld is 1 + 2^-100: no double holds it). */
int a64_call_ld(long double (*fp)(long double, long double)) {
    long double x = 1.0L + 0x1p-100L;
    return fp(x, 2.0L) == x * 3 - 2.0L;
}

F3 a64_call_f3(F3 (*fp)(F3, float)) { F3 x = {1, 2, 3}; return fp(x, -2); }
F4 a64_call_f4(F4 (*fp)(F4, F4)) {
    F4 x = {1, 2, 3, 4}, y = {10, 20, 30, 40};
    return fp(x, y);
}
D3 a64_call_d3(D3 (*fp)(D3, D1)) { D3 x = {{1.5, 2.5}, 3.5}; D1 y = {2}; return fp(x, y); }
D4 a64_call_d4(D4 (*fp)(D4)) { D4 x = {1, 2, 3, 4}; return fp(x); }
L2 a64_call_l2(L2 (*fp)(L2)) { L2 x = {0.5L, 1.0L + 0x1p-100L}; return fp(x); }
_Complex float a64_call_cf(_Complex float (*fp)(_Complex float)) { return fp(1.5f - 2.0if); }
Mix16 a64_call_mix(Mix16 (*fp)(FI, S3, Mix16)) {
    FI a = {2.5f, 40};
    S3 b = {1, 2, 3};
    Mix16 c = {-7, -300, 100000, 0.25};
    return fp(a, b, c);
}
__int128 a64_call_i128(__int128 (*fp)(int64_t, __int128, int64_t)) {
    return fp(-1, ((__int128)0x0123456789abcdefLL << 64) | 0xfedcba9876543210ULL, 7);
}
I128S a64_call_i128s(I128S (*fp)(int32_t, I128S)) {
    I128S b = {-((__int128)2 << 64) | 5};
    return fp(9, b);
}

/* Calls fp(x, 3, y) and returns 1 if the closure left the caller's x and y alone and the
 * result is what the closure is expected to return (x scaled by k plus y reversed, as
 * a64_big), 0 otherwise. */
int a64_call_big(Big (*fp)(Big, int32_t, Big)) {
    Big x = {{1, 2, 3}, 0.5}, y = {{100, 200, 300}, 0.25};
    Big r = fp(x, 3, y);
    return x.v[0] == 1 && y.v[0] == 100 && r.v[0] == 303 && r.v[1] == 206 && r.v[2] == 109 &&
           r.d == 0.25;
}

double a64_call_exh_v(double (*fp)(double, double, double, double, double, double, F3, double)) {
    F3 f = {1, 2, 3};
    return fp(0.5, 1, 2, 3, 4, 5, f, 6);
}

int64_t a64_call_exh_x(int64_t (*fp)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                     int64_t, Mix16, int64_t)) {
    Mix16 m = {3, -4, 5, 6.0};
    return fp(1, 2, 3, 4, 5, 6, 7, m, 8);
}

int64_t a64_call_exh_i128(int64_t (*fp)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                        int64_t, __int128, int64_t)) {
    return fp(1, 2, 3, 4, 5, 6, 7, ((__int128)11 << 64) | 13, 17);
}

double a64_call_vfmt(double (*fp)(const char *, ...)) {
    F3 f = {0.5f, 0.25f, 2};
    Big b = {{1, 2, 3}, 0.5};
    return fp("idlFpB", 3, -0.5, -(1LL << 40), f, (void *)0x1000, b);
}

#endif
