/* The scalar letters of the variadic format readers (arm_vfmt, i386_vfmt, a64_vfmt): `fmt`
 * names each argument, i = int32, l = int64, d = double, p = pointer (its address, summed
 * as an integer), and each term counts times its position k = 1, 2, ...; the Rust tests
 * compute that sum with one formula for every target. */
#ifndef CLOSURE_FFI_VFMT_H
#define CLOSURE_FFI_VFMT_H

#include <stdarg.h>
#include <stdint.h>

/* Reads the argument letter `c` names from `ap` into `*value`; 0 (reading nothing) for a
 * letter that is not a scalar one. */
static inline int vfmt_scalar(char c, va_list *ap, double *value) {
    switch (c) {
    case 'i': *value = (double)va_arg(*ap, int32_t); return 1;
    case 'l': *value = (double)va_arg(*ap, int64_t); return 1;
    case 'd': *value = va_arg(*ap, double); return 1;
    case 'p': *value = (double)(uintptr_t)va_arg(*ap, void *); return 1;
    default: return 0;
    }
}

#endif
