/* The signature shapes of tests/dynamic_i386.rs, instantiated per calling convention by
 * dynamic_i386.c and dynamic_i386_ms.c. i386 only. */

#ifndef CLOSURE_FFI_DYNAMIC_I386_H
#define CLOSURE_FFI_DYNAMIC_I386_H

#include <stdint.h>

typedef struct { uint8_t a, b, c; } I386S3;
typedef struct { int32_t a, b; } I386S8;
typedef struct { int32_t v[5]; double d; } I386Big;
typedef struct { int8_t x; } I386S1;

/* Each shape is a callee `i386_<cc>_<shape>` and a caller `i386_call_<cc>_<shape>(f)`
 * (the attribute sits inside the declarator, `R (ATTR *fp)(...)`, where it belongs to the
 * pointed-to function type) that passes the arguments tests/dynamic_i386.rs expects; `i386_<cc>_table` lists them
 * (callee, caller) in the order of the test's `Shape`. */
#define SHAPES(CC, ATTR)                                                                   \
    ATTR uint64_t i386_##CC##_ints(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e,   \
                                   uint32_t f, int64_t g, uint64_t h) {                    \
        return (uint64_t)a * 1 + (uint64_t)b * 3 + (uint64_t)c * 5 + (uint64_t)d * 7 +     \
               (uint64_t)e * 11 + (uint64_t)f * 13 + (uint64_t)g * 17 + h * 19;            \
    }                                                                                      \
    uint64_t i386_call_##CC##_ints(uint64_t (ATTR *fp)(int8_t, uint8_t, int16_t, uint16_t, \
                                                      int32_t, uint32_t, int64_t, uint64_t)) { \
        return fp(-5, 200, -3000, 60000, -100000, 3000000000u, -(1LL << 40) - 7,           \
                  (1ULL << 63) + 5);                                                       \
    }                                                                                      \
    ATTR double i386_##CC##_fp(float a, double b, long double c, int32_t d) {              \
        return a + b * 2 + (double)(c * 4) + d;                                            \
    }                                                                                      \
    double i386_call_##CC##_fp(double (ATTR *fp)(float, double, long double, int32_t)) {   \
        return fp(1.5f, -2.25, 0.125L, 7);                                                 \
    }                                                                                      \
    ATTR float i386_##CC##_f32(int32_t a, float b) { return a * b; }                       \
    float i386_call_##CC##_f32(float (ATTR *fp)(int32_t, float)) { return fp(3, 1.25f); }  \
    ATTR long double i386_##CC##_ld(long double a, int32_t b) { return a - b; }            \
    void i386_call_##CC##_ld(long double (ATTR *fp)(long double, int32_t),                 \
                             const long double *a, int32_t b, long double *out) {          \
        *out = fp(*a, b);                                                                  \
    }                                                                                      \
    ATTR int8_t i386_##CC##_i8(int8_t a, int8_t b) { return (int8_t)(a - b); }             \
    int32_t i386_call_##CC##_i8(int8_t (ATTR *fp)(int8_t, int8_t)) { return fp(-100, 27); } \
    ATTR uint16_t i386_##CC##_u16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }    \
    uint32_t i386_call_##CC##_u16(uint16_t (ATTR *fp)(uint16_t, uint16_t)) {               \
        return fp(65000, 535);                                                             \
    }                                                                                      \
    ATTR I386S3 i386_##CC##_s3(I386S3 s, int32_t k) {                                      \
        I386S3 r = {(uint8_t)(s.a + k), (uint8_t)(s.b + 2 * k), (uint8_t)(s.c + 3 * k)};   \
        return r;                                                                          \
    }                                                                                      \
    uint32_t i386_call_##CC##_s3(I386S3 (ATTR *fp)(I386S3, int32_t)) {                     \
        I386S3 s = {10, 20, 30};                                                           \
        I386S3 r = fp(s, 5);                                                               \
        return r.a | (uint32_t)r.b << 8 | (uint32_t)r.c << 16;                             \
    }                                                                                      \
    ATTR I386S8 i386_##CC##_s8(int32_t a, int32_t b) {                                     \
        I386S8 r = {a * 2, b * 3};                                                         \
        return r;                                                                          \
    }                                                                                      \
    int64_t i386_call_##CC##_s8(I386S8 (ATTR *fp)(int32_t, int32_t)) {                     \
        I386S8 r = fp(-21, 1000);                                                          \
        return (int64_t)r.a * 100000 + r.b;                                                \
    }                                                                                      \
    ATTR I386Big i386_##CC##_big(I386Big b, int64_t k, double d) {                         \
        I386Big r;                                                                         \
        for (int i = 0; i < 5; i++) r.v[i] = b.v[i] + (int32_t)k + i;                      \
        r.d = b.d * d;                                                                     \
        return r;                                                                          \
    }                                                                                      \
    double i386_call_##CC##_big(I386Big (ATTR *fp)(I386Big, int64_t, double)) {           \
        I386Big b = {{1, 2, 3, 4, 5}, 0.5};                                                \
        I386Big r = fp(b, 100, 8.0);                                                       \
        double sum = r.d;                                                                  \
        for (int i = 0; i < 5; i++) sum += r.v[i] * (i + 1);                               \
        return sum;                                                                        \
    }                                                                                      \
    ATTR int32_t i386_##CC##_regs(int32_t a, I386S1 s, int32_t b, int32_t c) {             \
        return a + s.x * 10 + b * 100 + c * 1000;                                          \
    }                                                                                      \
    int32_t i386_call_##CC##_regs(int32_t (ATTR *fp)(int32_t, I386S1, int32_t, int32_t)) { \
        I386S1 s = {-3};                                                                   \
        return fp(4, s, 5, 6);                                                             \
    }                                                                                      \
    ATTR int32_t i386_##CC##_s1first(I386S1 s, int32_t b, int32_t c) {                     \
        return s.x + b * 100 + c * 1000;                                                   \
    }                                                                                      \
    int32_t i386_call_##CC##_s1first(int32_t (ATTR *fp)(I386S1, int32_t, int32_t)) {       \
        I386S1 s = {9};                                                                    \
        return fp(s, -5, 6);                                                               \
    }                                                                                      \
    ATTR int32_t i386_##CC##_after64(int32_t a, int64_t b, int32_t c, int32_t d) {         \
        return a + (int32_t)(b >> 32) * 2 + (int32_t)b * 3 + c * 5 + d * 7;                \
    }                                                                                      \
    int32_t i386_call_##CC##_after64(int32_t (ATTR *fp)(int32_t, int64_t, int32_t,         \
                                                        int32_t)) {                        \
        return fp(1, (5LL << 32) | 9, 11, 13);                                             \
    }                                                                                      \
    ATTR int32_t i386_##CC##_fpregs(float a, int32_t b, double c, int16_t d) {             \
        return (int32_t)(a * 2) + b * 3 + (int32_t)(c * 4) + d * 5;                        \
    }                                                                                      \
    int32_t i386_call_##CC##_fpregs(int32_t (ATTR *fp)(float, int32_t, double, int16_t)) { \
        return fp(2.5f, -7, 1.25, -300);                                                   \
    }                                                                                      \
    ATTR char *i386_##CC##_ptr(char *p, int32_t off) { return p + off; }                   \
    char *i386_call_##CC##_ptr(char * (ATTR *fp)(char *, int32_t), char *p) {               \
        return fp(p, 12);                                                                  \
    }                                                                                      \
    ATTR _Complex float i386_##CC##_cf(float re, float im) {                               \
        return re * 2 + im * 3 * 1.0fi;                                                    \
    }                                                                                      \
    float i386_call_##CC##_cf(_Complex float (ATTR *fp)(float, float)) {                   \
        _Complex float r = fp(1.5f, -2.0f);                                                \
        return __real__ r * 10 + __imag__ r;                                               \
    }                                                                                      \
    ATTR _Complex double i386_##CC##_cd(double re, double im) { return im + re * 1.0i; }   \
    double i386_call_##CC##_cd(_Complex double (ATTR *fp)(double, double)) {              \
        _Complex double r = fp(0.25, 4.0);                                                 \
        return __real__ r * 10 + __imag__ r;                                               \
    }                                                                                      \
    ATTR void i386_##CC##_void(int32_t *out, int64_t v, float f) { *out = (int32_t)v + (int32_t)f; } \
    int32_t i386_call_##CC##_void(void (ATTR *fp)(int32_t *, int64_t, float)) {            \
        int32_t out = 0;                                                                   \
        fp(&out, 40, 2.0f);                                                                \
        return out;                                                                        \
    }                                                                                      \
    const void *const i386_##CC##_table[] = {                                              \
        (const void *)i386_##CC##_ints, (const void *)i386_call_##CC##_ints,               \
        (const void *)i386_##CC##_fp, (const void *)i386_call_##CC##_fp,                   \
        (const void *)i386_##CC##_f32, (const void *)i386_call_##CC##_f32,                 \
        (const void *)i386_##CC##_ld, (const void *)i386_call_##CC##_ld,                   \
        (const void *)i386_##CC##_i8, (const void *)i386_call_##CC##_i8,                   \
        (const void *)i386_##CC##_u16, (const void *)i386_call_##CC##_u16,                 \
        (const void *)i386_##CC##_s3, (const void *)i386_call_##CC##_s3,                   \
        (const void *)i386_##CC##_s8, (const void *)i386_call_##CC##_s8,                   \
        (const void *)i386_##CC##_big, (const void *)i386_call_##CC##_big,                 \
        (const void *)i386_##CC##_regs, (const void *)i386_call_##CC##_regs,               \
        (const void *)i386_##CC##_s1first, (const void *)i386_call_##CC##_s1first,         \
        (const void *)i386_##CC##_after64, (const void *)i386_call_##CC##_after64,         \
        (const void *)i386_##CC##_fpregs, (const void *)i386_call_##CC##_fpregs,           \
        (const void *)i386_##CC##_ptr, (const void *)i386_call_##CC##_ptr,                 \
        (const void *)i386_##CC##_cf, (const void *)i386_call_##CC##_cf,                   \
        (const void *)i386_##CC##_cd, (const void *)i386_call_##CC##_cd,                   \
        (const void *)i386_##CC##_void, (const void *)i386_call_##CC##_void,               \
    };

#endif
