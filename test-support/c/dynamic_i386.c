/* The i386 peer of tests/dynamic_i386.rs: every signature shape compiled once per i386
 * calling convention gcc implements (cdecl, stdcall, fastcall, thiscall, ms_abi), each
 * with a callee (called through a Cif) and a caller that calls a function pointer of the
 * same convention with fixed arguments (a dynamic closure, checked on both sides).
 * Pascal and Borland register, which gcc does not implement, get hand-written callees and
 * callers (naked functions). Empty on other targets. */

#if defined(__i386__)

#include <stdarg.h>

#include "dynamic_i386.h"
#include "vfmt.h"

SHAPES(cdecl, )
SHAPES(stdcall, __attribute__((stdcall)))
SHAPES(fastcall, __attribute__((fastcall)))
SHAPES(thiscall, __attribute__((thiscall)))
/* ms_abi is in dynamic_i386_ms.c. */

/* Variadic (cdecl): `fmt` names each argument (vfmt.h). */
double i386_vfmt(const char *fmt, ...) {
    va_list ap;
    double sum = 0;
    int k = 1;
    va_start(ap, fmt);
    for (const char *c = fmt; *c; c++, k++) {
        double value;
        if (vfmt_scalar(*c, &ap, &value))
            sum += k * value;
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
