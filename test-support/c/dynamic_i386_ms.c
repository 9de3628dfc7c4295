/* The ms_abi (ms_cdecl) instance of the shapes of dynamic_i386.h, in a translation unit of
 * its own: gcc 12 -m32 drops `ms_abi` from a function-pointer type when the same type
 * without it appeared earlier in the unit (the cdecl shapes), and its callers then expect
 * the callee to pop the hidden struct-return pointer, which an ms_abi callee does not. */

#if defined(__i386__)

#include "dynamic_i386.h"

SHAPES(mscdecl, __attribute__((ms_abi)))

#endif
