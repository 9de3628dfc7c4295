/* The 32-bit ARM peer of tests/dynamic_arm.rs: every signature shape compiled once per
 * procedure call standard, the VFP variant (`pcs("aapcs-vfp")`, the gnueabihf default)
 * and the base standard (`pcs("aapcs")`: floating point in core registers), each with a
 * callee (called through a Cif) and a caller that calls a function pointer of the same
 * standard with fixed arguments (a dynamic closure, checked on both sides); and variadic
 * functions. Built as T32 by arm-linux-gnueabihf-gcc's default and called from A32 or T32
 * Rust code. Empty on other targets. */

#if defined(__arm__)

#include <stdarg.h>

#include "dynamic_arm.h"
#include "vfmt.h"

SHAPES(vfp, __attribute__((pcs("aapcs-vfp"))))
/* The base standard is in dynamic_arm_base.c: within one translation unit gcc 12 takes
 * function-pointer types that differ only in `pcs` for the same type, and calls through
 * the second one by the first one's standard. */

/* Variadic (always the base standard): `fmt` names each argument (vfmt.h). */
double arm_vfmt(const char *fmt, ...) {
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

double arm_call_vfmt(double (*fp)(const char *, ...)) {
    return fp("idlidp", 3, -0.5, -(1LL << 40), 77, 2.25, (void *)0x1000);
}

/* A fixed double first: r0:r1 even under the VFP variant. */
double arm_vdouble(double first, ...) {
    va_list ap;
    va_start(ap, first);
    int32_t n = va_arg(ap, int32_t);
    double second = va_arg(ap, double);
    va_end(ap);
    return first * 2 + n * 3 + second * 5;
}

#endif
