/* The i386 peer of tests/dynamic_i386.rs: every signature shape compiled once per i386
 * calling convention gcc implements (cdecl, stdcall, fastcall, thiscall, ms_abi), each
 * with a callee (called through a Cif) and a caller that calls a function pointer of the
 * same convention with fixed arguments (a dynamic closure, checked on both sides).
 * Pascal and Borland register, which gcc does not implement, get hand-written callees and
 * callers (naked functions). Empty on other targets. */

#if defined(__i386__)

#include <stdarg.h>
#include <stdint.h>

typedef struct { uint8_t a, b, c; } I386S3;
typedef struct { int32_t a, b; } I386S8;
typedef struct { int32_t v[5]; double d; } I386Big;
typedef struct { int8_t x; } I386S1;

/* Each shape is a callee `i386_<cc>_<shape>` and a caller `i386_call_<cc>_<shape>(f)`
 * that passes the arguments tests/dynamic_i386.rs expects; `i386_<cc>_table` lists them
 * (callee, caller) in the order of the test's `Shape`. */
#define SHAPES(CC, ATTR)                                                                   \
    ATTR uint64_t i386_##CC##_ints(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e,   \
                                   uint32_t f, int64_t g, uint64_t h) {                    \
        return (uint64_t)a * 1 + (uint64_t)b * 3 + (uint64_t)c * 5 + (uint64_t)d * 7 +     \
               (uint64_t)e * 11 + (uint64_t)f * 13 + (uint64_t)g * 17 + h * 19;            \
    }                                                                                      \
    uint64_t i386_call_##CC##_ints(ATTR uint64_t (*fp)(int8_t, uint8_t, int16_t, uint16_t, \
                                                      int32_t, uint32_t, int64_t, uint64_t)) { \
        return fp(-5, 200, -3000, 60000, -100000, 3000000000u, -(1LL << 40) - 7,           \
                  (1ULL << 63) + 5);                                                       \
    }                                                                                      \
    ATTR double i386_##CC##_fp(float a, double b, long double c, int32_t d) {              \
        return a + b * 2 + (double)(c * 4) + d;                                            \
    }                                                                                      \
    double i386_call_##CC##_fp(ATTR double (*fp)(float, double, long double, int32_t)) {   \
        return fp(1.5f, -2.25, 0.125L, 7);                                                 \
    }                                                                                      \
    ATTR float i386_##CC##_f32(int32_t a, float b) { return a * b; }                       \
    float i386_call_##CC##_f32(ATTR float (*fp)(int32_t, float)) { return fp(3, 1.25f); }  \
    ATTR long double i386_##CC##_ld(long double a, int32_t b) { return a - b; }            \
    void i386_call_##CC##_ld(ATTR long double (*fp)(long double, int32_t),                 \
                             const long double *a, int32_t b, long double *out) {          \
        *out = fp(*a, b);                                                                  \
    }                                                                                      \
    ATTR int8_t i386_##CC##_i8(int8_t a, int8_t b) { return (int8_t)(a - b); }             \
    int32_t i386_call_##CC##_i8(ATTR int8_t (*fp)(int8_t, int8_t)) { return fp(-100, 27); } \
    ATTR uint16_t i386_##CC##_u16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }    \
    uint32_t i386_call_##CC##_u16(ATTR uint16_t (*fp)(uint16_t, uint16_t)) {               \
        return fp(65000, 535);                                                             \
    }                                                                                      \
    ATTR I386S3 i386_##CC##_s3(I386S3 s, int32_t k) {                                      \
        I386S3 r = {(uint8_t)(s.a + k), (uint8_t)(s.b + 2 * k), (uint8_t)(s.c + 3 * k)};   \
        return r;                                                                          \
    }                                                                                      \
    uint32_t i386_call_##CC##_s3(ATTR I386S3 (*fp)(I386S3, int32_t)) {                     \
        I386S3 s = {10, 20, 30};                                                           \
        I386S3 r = fp(s, 5);                                                               \
        return r.a | (uint32_t)r.b << 8 | (uint32_t)r.c << 16;                             \
    }                                                                                      \
    ATTR I386S8 i386_##CC##_s8(int32_t a, int32_t b) {                                     \
        I386S8 r = {a * 2, b * 3};                                                         \
        return r;                                                                          \
    }                                                                                      \
    int64_t i386_call_##CC##_s8(ATTR I386S8 (*fp)(int32_t, int32_t)) {                     \
        I386S8 r = fp(-21, 1000);                                                          \
        return (int64_t)r.a * 100000 + r.b;                                                \
    }                                                                                      \
    ATTR I386Big i386_##CC##_big(I386Big b, int64_t k, double d) {                         \
        I386Big r;                                                                         \
        for (int i = 0; i < 5; i++) r.v[i] = b.v[i] + (int32_t)k + i;                      \
        r.d = b.d * d;                                                                     \
        return r;                                                                          \
    }                                                                                      \
    double i386_call_##CC##_big(ATTR I386Big (*fp)(I386Big, int64_t, double)) {           \
        I386Big b = {{1, 2, 3, 4, 5}, 0.5};                                                \
        I386Big r = fp(b, 100, 8.0);                                                       \
        double sum = r.d;                                                                  \
        for (int i = 0; i < 5; i++) sum += r.v[i] * (i + 1);                               \
        return sum;                                                                        \
    }                                                                                      \
    ATTR int32_t i386_##CC##_regs(int32_t a, I386S1 s, int32_t b, int32_t c) {             \
        return a + s.x * 10 + b * 100 + c * 1000;                                          \
    }                                                                                      \
    int32_t i386_call_##CC##_regs(ATTR int32_t (*fp)(int32_t, I386S1, int32_t, int32_t)) { \
        I386S1 s = {-3};                                                                   \
        return fp(4, s, 5, 6);                                                             \
    }                                                                                      \
    ATTR int32_t i386_##CC##_s1first(I386S1 s, int32_t b, int32_t c) {                     \
        return s.x + b * 100 + c * 1000;                                                   \
    }                                                                                      \
    int32_t i386_call_##CC##_s1first(ATTR int32_t (*fp)(I386S1, int32_t, int32_t)) {       \
        I386S1 s = {9};                                                                    \
        return fp(s, -5, 6);                                                               \
    }                                                                                      \
    ATTR int32_t i386_##CC##_after64(int32_t a, int64_t b, int32_t c, int32_t d) {         \
        return a + (int32_t)(b >> 32) * 2 + (int32_t)b * 3 + c * 5 + d * 7;                \
    }                                                                                      \
    int32_t i386_call_##CC##_after64(ATTR int32_t (*fp)(int32_t, int64_t, int32_t,         \
                                                        int32_t)) {                        \
        return fp(1, (5LL << 32) | 9, 11, 13);                                             \
    }                                                                                      \
    ATTR int32_t i386_##CC##_fpregs(float a, int32_t b, double c, int16_t d) {             \
        return (int32_t)(a * 2) + b * 3 + (int32_t)(c * 4) + d * 5;                        \
    }                                                                                      \
    int32_t i386_call_##CC##_fpregs(ATTR int32_t (*fp)(float, int32_t, double, int16_t)) { \
        return fp(2.5f, -7, 1.25, -300);                                                   \
    }                                                                                      \
    ATTR char *i386_##CC##_ptr(char *p, int32_t off) { return p + off; }                   \
    char *i386_call_##CC##_ptr(ATTR char *(*fp)(char *, int32_t), char *p) {               \
        return fp(p, 12);                                                                  \
    }                                                                                      \
    ATTR _Complex float i386_##CC##_cf(float re, float im) {                               \
        return re * 2 + im * 3 * 1.0fi;                                                    \
    }                                                                                      \
    float i386_call_##CC##_cf(ATTR _Complex float (*fp)(float, float)) {                   \
        _Complex float r = fp(1.5f, -2.0f);                                                \
        return __real__ r * 10 + __imag__ r;                                               \
    }                                                                                      \
    ATTR _Complex double i386_##CC##_cd(double re, double im) { return im + re * 1.0i; }   \
    double i386_call_##CC##_cd(ATTR _Complex double (*fp)(double, double)) {              \
        _Complex double r = fp(0.25, 4.0);                                                 \
        return __real__ r * 10 + __imag__ r;                                               \
    }                                                                                      \
    ATTR void i386_##CC##_void(int32_t *out, int64_t v, float f) { *out = (int32_t)v + (int32_t)f; } \
    int32_t i386_call_##CC##_void(ATTR void (*fp)(int32_t *, int64_t, float)) {            \
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

SHAPES(cdecl, )
SHAPES(stdcall, __attribute__((stdcall)))
SHAPES(fastcall, __attribute__((fastcall)))
SHAPES(thiscall, __attribute__((thiscall)))
SHAPES(mscdecl, __attribute__((ms_abi)))

/* Variadic (cdecl): `fmt` names each argument: i = int32, l = int64, d = double,
 * p = pointer (its address, summed as an integer). */
double i386_vfmt(const char *fmt, ...) {
    va_list ap;
    double sum = 0;
    int k = 1;
    va_start(ap, fmt);
    for (const char *c = fmt; *c; c++, k++) {
        switch (*c) {
        case 'i': sum += k * (double)va_arg(ap, int32_t); break;
        case 'l': sum += k * (double)va_arg(ap, int64_t); break;
        case 'd': sum += k * va_arg(ap, double); break;
        case 'p': sum += k * (double)(uintptr_t)va_arg(ap, void *); break;
        }
    }
    va_end(ap);
    return sum;
}

double i386_call_vfmt(double (*fp)(const char *, ...)) {
    return fp("idlip", 3, -0.5, -(1LL << 40), 77, (void *)0x1000);
}

/* Pascal: arguments pushed left to right (the last is at [esp + 4]), callee pops.
 * int32_t pascal_sub(int32_t a, int64_t b, int16_t c) = a * 3 - (int32_t)(b >> 32) * 5
 * + (int32_t)b - c, with c at [esp + 4], b at [esp + 8], a at [esp + 16]. */
__attribute__((naked)) int32_t i386_pascal_sub(void) {
    __asm__(
        "movl 16(%esp), %eax\n\t"
        "leal (%eax,%eax,2), %eax\n\t"   /* a * 3 */
        "movl 12(%esp), %ecx\n\t"
        "leal (%ecx,%ecx,4), %ecx\n\t"   /* hi(b) * 5 */
        "subl %ecx, %eax\n\t"
        "addl 8(%esp), %eax\n\t"         /* + lo(b) */
        "movswl 4(%esp), %ecx\n\t"
        "subl %ecx, %eax\n\t"            /* - c */
        "ret $16");
}

/* Calls a pascal `int32_t (int32_t a, int64_t b, int16_t c)` with (1000, 7 << 32 | 40, -2)
 * from a cdecl function: [esp + 4] = the pointer. */
__attribute__((naked)) int32_t i386_call_pascal_sub(void *fp) {
    (void)fp;
    __asm__(
        "movl 4(%esp), %ecx\n\t"
        "pushl %ebx\n\t"
        "movl %esp, %ebx\n\t"            /* to check the callee's pop */
        "pushl $1000\n\t"                /* a, pushed first */
        "pushl $7\n\t"                   /* b: high word first, so the low word is below */
        "pushl $40\n\t"
        "pushl $-2\n\t"                  /* c, pushed last */
        "call *%ecx\n\t"
        "cmpl %esp, %ebx\n\t"            /* the callee popped exactly 16 bytes */
        "je 1f\n\t"
        "movl $0x7fffffff, %eax\n\t"     /* else: a result no closure returns */
        "movl %ebx, %esp\n"
        "1:\n\t"
        "popl %ebx\n\t"
        "ret");
}

/* Borland register: int32_t reg_mix(int32_t a, double d, int8_t b, void *p, int32_t c,
 * float f): a = eax, b = edx, p = ecx; d, c, f pushed left to right (f at [esp + 4],
 * c at [esp + 8], d at [esp + 12]); callee pops 16. Returns
 * (a + 2 * b + 3 * c + p) ^ bits(f) ^ lo(bits(d)) ^ hi(bits(d)). */
__attribute__((naked)) int32_t i386_register_mix(void) {
    __asm__(
        "movsbl %dl, %edx\n\t"
        "leal (%eax,%edx,2), %eax\n\t"   /* a + 2b */
        "addl %ecx, %eax\n\t"            /* + p */
        "movl 8(%esp), %ecx\n\t"
        "leal (%ecx,%ecx,2), %ecx\n\t"
        "addl %ecx, %eax\n\t"            /* + 3c */
        "xorl 4(%esp), %eax\n\t"
        "xorl 12(%esp), %eax\n\t"
        "xorl 16(%esp), %eax\n\t"
        "ret $16");
}

/* Calls a register-convention reg_mix with (100, d, -3, 0x1000, -7, 1.5f), d the double
 * of bits 0x4029123456789abc. */
__attribute__((naked)) int32_t i386_call_register_mix(void *fp) {
    (void)fp;
    __asm__(
        "pushl %ebx\n\t"
        "pushl %esi\n\t"
        "movl 12(%esp), %esi\n\t"
        "movl %esp, %ebx\n\t"
        "pushl $0x40291234\n\t"          /* d: high word first */
        "pushl $0x56789abc\n\t"
        "pushl $-7\n\t"                  /* c */
        "pushl $0x3fc00000\n\t"          /* f = 1.5f, pushed last */
        "movl $100, %eax\n\t"
        "movl $-3, %edx\n\t"
        "movl $0x1000, %ecx\n\t"
        "call *%esi\n\t"
        "cmpl %esp, %ebx\n\t"
        "je 1f\n\t"
        "movl $0x7fffffff, %eax\n\t"
        "movl %ebx, %esp\n"
        "1:\n\t"
        "popl %esi\n\t"
        "popl %ebx\n\t"
        "ret");
}

/* Register with a long double return and a 64-bit argument on the stack:
 * long double reg_ld(int32_t a, int64_t b) = a + b (b at [esp + 4], a in eax). */
__attribute__((naked)) long double i386_register_ld(void) {
    __asm__(
        "pushl %eax\n\t"
        "fildl (%esp)\n\t"
        "fildll 8(%esp)\n\t"
        "faddp\n\t"
        "popl %eax\n\t"
        "ret $8");
}

#endif
