/* The C side of closure-ffi's tests: types shared with src/lib.rs (#[repr(C)] mirrors). */
#ifndef CLOSURE_FFI_PEER_H
#define CLOSURE_FFI_PEER_H
#include <stdint.h>

/* 8 bytes: one INTEGER eightbyte on SysV x86_64, returned in rax; memory on i686. */
typedef struct { int32_t a; int32_t b; } Small;
/* 16 bytes, float+int then double: SSE and SSE eightbytes on SysV x86_64. */
typedef struct { float f; int32_t i; double d; } Mixed;
/* 40 bytes: passed and returned in memory (hidden pointer) everywhere. */
typedef struct { int64_t v[5]; } Large;

#endif
