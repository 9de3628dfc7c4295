/* The base-standard (`pcs("aapcs")`) instantiation of the shapes of tests/dynamic_arm.rs
 * (see dynamic_arm.c: it needs a translation unit of its own). Empty on other targets. */

#if defined(__arm__)

#include "dynamic_arm.h"

SHAPES(base, __attribute__((pcs("aapcs"))))

#endif
