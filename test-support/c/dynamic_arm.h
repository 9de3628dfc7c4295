/* The signature shapes of tests/dynamic_arm.rs, instantiated per procedure call standard
 * by dynamic_arm.c. 32-bit ARM only. */

#ifndef CLOSURE_FFI_DYNAMIC_ARM_H
#define CLOSURE_FFI_DYNAMIC_ARM_H

#include <stdint.h>

typedef struct { uint8_t a, b, c; } ArmS3;
typedef struct { int32_t a, b, c; } ArmS12;
typedef struct { int32_t v[5]; double d; } ArmBig;
typedef struct { float a, b, c; } ArmF3;
typedef struct { double a, b; } ArmD2;
typedef struct { double v[4]; } ArmD4;
typedef union { float a; float b[3]; } ArmUF3;
typedef struct { float a; double b; } ArmFD;

/* Each shape is a callee `arm_<cc>_<shape>` and a caller `arm_call_<cc>_<shape>(f)` (the
 * attribute follows the parameter list, `R (*fp)(...) ATTR`: gcc 12 ignores a `pcs`
 * attribute inside the declarator, `R (ATTR *fp)(...)`, and calls by the default) that passes the arguments tests/dynamic_arm.rs expects and
 * folds the result into a scalar; `arm_<cc>_table` lists them (callee, caller) in the
 * order of the test's `Shape`. Where each argument goes is in the comments of
 * src/arch/arm/aapcs32.rs's tests (VFP / base standard). */
#define SHAPES(CC, ATTR)                                                                   \
    /* r0..r3, then [sp] ..; g and h 8-aligned on the stack. */                            \
    ATTR uint64_t arm_##CC##_ints(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e,    \
                                  uint32_t f, int64_t g, uint64_t h) {                     \
        return (uint64_t)a * 1 + (uint64_t)b * 3 + (uint64_t)c * 5 + (uint64_t)d * 7 +     \
               (uint64_t)e * 11 + (uint64_t)f * 13 + (uint64_t)g * 17 + h * 19;            \
    }                                                                                      \
    uint64_t arm_call_##CC##_ints(uint64_t (*fp)(int8_t, uint8_t, int16_t, uint16_t,  \
                                                     int32_t, uint32_t, int64_t, uint64_t) ATTR) { \
        return fp(-5, 200, -3000, 60000, -100000, 3000000000u, -(1LL << 40) - 7,           \
                  (1ULL << 63) + 5);                                                       \
    }                                                                                      \
    /* VFP: s0, d1, s1 (back-filled), d2, s6, r0. */                                       \
    ATTR double arm_##CC##_fp(float a, double b, float c, double d, float e, int32_t i) {   \
        return a + b * 2 + c * 4 + d * 8 + e * 16 + i * 32;                                \
    }                                                                                      \
    double arm_call_##CC##_fp(double (*fp)(float, double, float, double, float,       \
                                                int32_t) ATTR) {                                \
        return fp(1.5f, -2.25, 0.125f, 3.5, -0.75f, 7);                                    \
    }                                                                                      \
    ATTR float arm_##CC##_f32(int32_t a, float b) { return a * b; }                        \
    float arm_call_##CC##_f32(float (*fp)(int32_t, float) ATTR) { return fp(3, 1.25f); }   \
    ATTR int8_t arm_##CC##_i8(int8_t a, int8_t b) { return (int8_t)(a - b); }              \
    int32_t arm_call_##CC##_i8(int8_t (*fp)(int8_t, int8_t) ATTR) { return fp(-100, 27); } \
    ATTR uint16_t arm_##CC##_u16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }     \
    uint32_t arm_call_##CC##_u16(uint16_t (*fp)(uint16_t, uint16_t) ATTR) {                \
        return fp(65000, 600);                                                             \
    }                                                                                      \
    /* A 3-byte struct argument in r0, returned in r0. */                                  \
    ATTR ArmS3 arm_##CC##_s3(ArmS3 s, int32_t k) {                                         \
        ArmS3 r = {(uint8_t)(s.a + k), (uint8_t)(s.b + 2 * k), (uint8_t)(s.c + 3 * k)};    \
        return r;                                                                          \
    }                                                                                      \
    uint32_t arm_call_##CC##_s3(ArmS3 (*fp)(ArmS3, int32_t) ATTR) {                        \
        ArmS3 s = {10, 20, 30};                                                            \
        ArmS3 r = fp(s, 5);                                                                \
        return r.a | (uint32_t)r.b << 8 | (uint32_t)r.c << 16;                             \
    }                                                                                      \
    /* Returned through r0; a in r1; b (8-aligned) split r2:r3 + 24 bytes of stack; d in   \
     * d0 (VFP) or at [sp + 24]. */                                                        \
    ATTR ArmBig arm_##CC##_big(int32_t a, ArmBig b, double d) {                            \
        ArmBig r;                                                                          \
        for (int i = 0; i < 5; i++) r.v[i] = b.v[i] + a + i;                               \
        r.d = b.d * d;                                                                     \
        return r;                                                                          \
    }                                                                                      \
    double arm_call_##CC##_big(ArmBig (*fp)(int32_t, ArmBig, double) ATTR) {               \
        ArmBig b = {{1, 2, 3, 4, 5}, 0.5};                                                 \
        ArmBig r = fp(100, b, 8.0);                                                        \
        double sum = r.d;                                                                  \
        for (int i = 0; i < 5; i++) sum += r.v[i] * (i + 1);                               \
        return sum;                                                                        \
    }                                                                                      \
    /* s split between r3 and [sp]; x at [sp + 8]. */                                      \
    ATTR int32_t arm_##CC##_split(int32_t a, int32_t b, int32_t c, ArmS12 s, int32_t x) {  \
        return a + b * 2 + c * 3 + s.a * 4 + s.b * 5 + s.c * 6 + x * 7;                    \
    }                                                                                      \
    int32_t arm_call_##CC##_split(int32_t (*fp)(int32_t, int32_t, int32_t, ArmS12,    \
                                                     int32_t) ATTR) {                           \
        ArmS12 s = {4, -5, 6};                                                             \
        return fp(1, 2, 3, s, 7);                                                          \
    }                                                                                      \
    /* VFP: d0..d7, e at [sp]; then no split (C.5) and no r3 after s (C.6). */             \
    ATTR double arm_##CC##_c6(double d0, double d1, double d2, double d3, double d4,       \
                              double d5, double d6, double d7, double e, int32_t a,         \
                              int32_t b, int32_t c, ArmS12 s, int32_t x) {                 \
        return d0 + d1 * 2 + d2 * 3 + d3 * 4 + d4 * 5 + d5 * 6 + d6 * 7 + d7 * 8 + e * 9 + \
               a * 10 + b * 11 + c * 12 + s.a * 13 + s.b * 14 + s.c * 15 + x * 16;         \
    }                                                                                      \
    double arm_call_##CC##_c6(double (*fp)(double, double, double, double, double,    \
                                                double, double, double, double, int32_t,   \
                                                int32_t, int32_t, ArmS12, int32_t) ATTR) {      \
        ArmS12 s = {-13, 14, 15};                                                          \
        return fp(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, -8.5, 10, -11, 12, s, 16);       \
    }                                                                                      \
    /* a r0, b r2:r3, c [sp], d [sp + 8]. */                                               \
    ATTR int64_t arm_##CC##_pair(int32_t a, int64_t b, int32_t c, int64_t d) {             \
        return a + b * 3 + c * 5 + d * 7;                                                  \
    }                                                                                      \
    int64_t arm_call_##CC##_pair(int64_t (*fp)(int32_t, int64_t, int32_t, int64_t) ATTR) { \
        return fp(-9, 1LL << 35, 11, -(1LL << 33));                                        \
    }                                                                                      \
    /* VFP: y s0, x s1..s3, z d2..d3; the result in s0..s2. */                             \
    ATTR ArmF3 arm_##CC##_hfa_f3(float y, ArmF3 x, ArmD2 z) {                              \
        ArmF3 r = {x.a + y, (float)(x.b * z.a), (float)(x.c - z.b)};                       \
        return r;                                                                          \
    }                                                                                      \
    double arm_call_##CC##_hfa_f3(ArmF3 (*fp)(float, ArmF3, ArmD2) ATTR) {                 \
        ArmF3 x = {1.5f, 2.5f, -3.0f};                                                     \
        ArmD2 z = {4.0, 0.25};                                                             \
        ArmF3 r = fp(0.5f, x, z);                                                          \
        return r.a + r.b * 2.0 + r.c * 4.0;                                                \
    }                                                                                      \
    /* VFP: a d0..d3, b d4..d7, c at [sp], i r0; the result in d0..d3. */                  \
    ATTR ArmD4 arm_##CC##_hfa_d4(ArmD4 a, ArmD4 b, ArmD4 c, int32_t i) {                   \
        ArmD4 r;                                                                           \
        for (int k = 0; k < 4; k++) r.v[k] = a.v[k] + b.v[k] * 2 + c.v[k] * 4 + i;         \
        return r;                                                                          \
    }                                                                                      \
    double arm_call_##CC##_hfa_d4(ArmD4 (*fp)(ArmD4, ArmD4, ArmD4, int32_t) ATTR) {        \
        ArmD4 a = {{1, 2, 3, 4}}, b = {{0.5, -0.5, 1.5, -1.5}}, c = {{8, 16, 32, 64}};     \
        ArmD4 r = fp(a, b, c, -3);                                                         \
        return r.v[0] + r.v[1] * 10 + r.v[2] * 100 + r.v[3] * 1000;                        \
    }                                                                                      \
    ATTR _Complex float arm_##CC##_cf(_Complex float z, float k) {                         \
        _Complex float r;                                                                  \
        __real__ r = __real__ z * k;                                                       \
        __imag__ r = __imag__ z + k;                                                       \
        return r;                                                                          \
    }                                                                                      \
    double arm_call_##CC##_cf(_Complex float (*fp)(_Complex float, float) ATTR) {          \
        _Complex float z;                                                                  \
        __real__ z = 1.5f;                                                                 \
        __imag__ z = 2.5f;                                                                 \
        _Complex float r = fp(z, 2.0f);                                                    \
        return __real__ r + __imag__ r * 10.0;                                             \
    }                                                                                      \
    ATTR _Complex double arm_##CC##_cd(_Complex double z, double k) {                      \
        _Complex double r;                                                                 \
        __real__ r = __real__ z * k;                                                       \
        __imag__ r = __imag__ z + k;                                                       \
        return r;                                                                          \
    }                                                                                      \
    double arm_call_##CC##_cd(_Complex double (*fp)(_Complex double, double) ATTR) {       \
        _Complex double z;                                                                 \
        __real__ z = -1.25;                                                                \
        __imag__ z = 3.0;                                                                  \
        _Complex double r = fp(z, 4.0);                                                    \
        return __real__ r + __imag__ r * 10.0;                                             \
    }                                                                                      \
    /* VFP: u (a homogeneous union of 3 floats) s0..s2, y s3. */                           \
    ATTR float arm_##CC##_uf(ArmUF3 u, float y) {                                          \
        return u.b[0] + u.b[1] * 2 + u.b[2] * 4 + y * 8;                                   \
    }                                                                                      \
    float arm_call_##CC##_uf(float (*fp)(ArmUF3, float) ATTR) {                            \
        ArmUF3 u = {.b = {0.5f, -1.5f, 2.25f}};                                            \
        return fp(u, 0.125f);                                                              \
    }                                                                                      \
    /* No VFP candidate: s in r2:r3 + [sp] (VFP: f s0; base: f r0). */                     \
    ATTR double arm_##CC##_fd(float f, ArmFD s) { return f + s.a * 2 + s.b * 4; }          \
    double arm_call_##CC##_fd(double (*fp)(float, ArmFD) ATTR) {                           \
        ArmFD s = {-0.5f, 1024.25};                                                        \
        return fp(3.0f, s);                                                                \
    }                                                                                      \
    /* VFP: s0..s15, then 4 on the stack; base: r0..r3, then 16 on the stack. */           \
    ATTR double arm_##CC##_many(float a0, float a1, float a2, float a3, float a4, float a5, \
                                float a6, float a7, float a8, float a9, float a10,         \
                                float a11, float a12, float a13, float a14, float a15,     \
                                float a16, float a17, float a18, float a19) {              \
        float v[20] = {a0,  a1,  a2,  a3,  a4,  a5,  a6,  a7,  a8,  a9,                    \
                       a10, a11, a12, a13, a14, a15, a16, a17, a18, a19};                  \
        double sum = 0;                                                                    \
        for (int k = 0; k < 20; k++) sum += v[k] * (k + 1);                                \
        return sum;                                                                        \
    }                                                                                      \
    double arm_call_##CC##_many(double (*fp)(float, float, float, float, float,       \
                                                  float, float, float, float, float,       \
                                                  float, float, float, float, float,       \
                                                  float, float, float, float, float) ATTR) {    \
        return fp(0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7, 7.5f, 8,  \
                  8.5f, 9, 9.5f, -10);                                                     \
    }                                                                                      \
    ATTR void arm_##CC##_void(int32_t *out, int32_t v) { *out = v * 2; }                   \
    int32_t arm_call_##CC##_void(void (*fp)(int32_t *, int32_t) ATTR) {                    \
        int32_t x = 0;                                                                     \
        fp(&x, 21);                                                                        \
        return x;                                                                          \
    }                                                                                      \
    ATTR void *arm_##CC##_ptr(char *p, int32_t k) { return p + k; }                        \
    uintptr_t arm_call_##CC##_ptr(void *(*fp)(char *, int32_t) ATTR) {                     \
        return (uintptr_t)fp((char *)0x1000, 5);                                           \
    }                                                                                      \
    const void *const arm_##CC##_table[] = {                                               \
        (const void *)arm_##CC##_ints,   (const void *)arm_call_##CC##_ints,                \
        (const void *)arm_##CC##_fp,     (const void *)arm_call_##CC##_fp,                  \
        (const void *)arm_##CC##_f32,    (const void *)arm_call_##CC##_f32,                 \
        (const void *)arm_##CC##_i8,     (const void *)arm_call_##CC##_i8,                  \
        (const void *)arm_##CC##_u16,    (const void *)arm_call_##CC##_u16,                 \
        (const void *)arm_##CC##_s3,     (const void *)arm_call_##CC##_s3,                  \
        (const void *)arm_##CC##_big,    (const void *)arm_call_##CC##_big,                 \
        (const void *)arm_##CC##_split,  (const void *)arm_call_##CC##_split,               \
        (const void *)arm_##CC##_c6,     (const void *)arm_call_##CC##_c6,                  \
        (const void *)arm_##CC##_pair,   (const void *)arm_call_##CC##_pair,                \
        (const void *)arm_##CC##_hfa_f3, (const void *)arm_call_##CC##_hfa_f3,              \
        (const void *)arm_##CC##_hfa_d4, (const void *)arm_call_##CC##_hfa_d4,              \
        (const void *)arm_##CC##_cf,     (const void *)arm_call_##CC##_cf,                  \
        (const void *)arm_##CC##_cd,     (const void *)arm_call_##CC##_cd,                  \
        (const void *)arm_##CC##_uf,     (const void *)arm_call_##CC##_uf,                  \
        (const void *)arm_##CC##_fd,     (const void *)arm_call_##CC##_fd,                  \
        (const void *)arm_##CC##_many,   (const void *)arm_call_##CC##_many,                \
        (const void *)arm_##CC##_void,   (const void *)arm_call_##CC##_void,                \
        (const void *)arm_##CC##_ptr,    (const void *)arm_call_##CC##_ptr,                 \
    };

#endif
