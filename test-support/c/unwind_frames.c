/* C frames between a caller and a callback, for tests/unwind_c.rs: a Rust panic raised in
 * a closure-ffi thunk with an `-unwind` ABI unwinds through them into the Rust caller's
 * `catch_unwind`.
 *
 * This file alone is compiled with -fexceptions (build.rs): without it GCC emits no
 * landing pads, so the `cleanup` handlers below would be skipped by an unwinding panic (the
 * frames would still be unwound, through their .eh_frame tables, but silently).
 *
 * Every function records what happened in an `UnwindTrace` the caller owns (the tests run
 * on parallel threads, so nothing here is global):
 *   - `returns` counts frames whose callback returned normally (the code after the call
 *     ran), so it stays 0 on the frames a panic unwinds through;
 *   - `cleanups` counts `cleanup` handlers that ran, which they do on a normal return and,
 *     with -fexceptions, during unwinding.
 *
 * Per callback ABI there are two entry points:
 *   unwind_one_frame_<abi>(cb, x, trace)   = cb(x) + 1;      a frame with a cleanup
 *   unwind_two_frames_<abi>(cb, x, trace)  = 2 * cb(x) + 2;  a frame with a cleanup calling
 *                                            a plain frame (no cleanup) that calls cb
 * `noipa` keeps each frame a real frame (no inlining, cloning or tail call into cb: the code
 * after each call uses its result). */
#include <stdint.h>

#define FRAME __attribute__((noipa, noinline))

typedef struct {
    uint32_t cleanups;
    uint32_t returns;
} UnwindTrace;

/* The `cleanup` handler: receives the address of the guarded variable. */
static void count_cleanup(UnwindTrace **guard) { (*guard)->cleanups++; }

/* Defines unwind_one_frame_<name> and unwind_two_frames_<name> for callbacks of type
 * `uint32_t CC (*)(uint32_t)`. */
#define UNWIND_FRAMES(name, CC)                                                             \
    typedef uint32_t(CC *unwind_cb_##name)(uint32_t);                                       \
                                                                                            \
    FRAME uint32_t unwind_one_frame_##name(unwind_cb_##name cb, uint32_t x,                 \
                                           UnwindTrace *trace) {                            \
        UnwindTrace *guard __attribute__((cleanup(count_cleanup))) = trace;                 \
        uint32_t r = cb(x);                                                                 \
        guard->returns++;                                                                   \
        return r + 1;                                                                       \
    }                                                                                       \
                                                                                            \
    static FRAME uint32_t plain_frame_##name(unwind_cb_##name cb, uint32_t x,               \
                                             UnwindTrace *trace) {                          \
        uint32_t r = cb(x);                                                                 \
        trace->returns++;                                                                   \
        return 2 * r;                                                                       \
    }                                                                                       \
                                                                                            \
    FRAME uint32_t unwind_two_frames_##name(unwind_cb_##name cb, uint32_t x,                \
                                            UnwindTrace *trace) {                           \
        UnwindTrace *guard __attribute__((cleanup(count_cleanup))) = trace;                 \
        uint32_t r = plain_frame_##name(cb, x, trace);                                      \
        guard->returns++;                                                                   \
        return r + 2;                                                                       \
    }

/* The target's C ABI ("C-unwind", "system-unwind", and "cdecl-unwind" on i686). */
UNWIND_FRAMES(c, )

#if defined(__x86_64__)
/* "win64-unwind": gcc's ms_abi. */
UNWIND_FRAMES(ms, __attribute__((ms_abi)))
/* "sysv64-unwind": gcc's sysv_abi (the C ABI is Win64 on Windows). */
UNWIND_FRAMES(sysv, __attribute__((sysv_abi)))
#endif

#if defined(__i386__)
/* The callee-pops conventions: unwinding must also restore the stack pointer they moved. */
UNWIND_FRAMES(stdcall, __attribute__((stdcall)))
UNWIND_FRAMES(fastcall, __attribute__((fastcall)))
UNWIND_FRAMES(thiscall, __attribute__((thiscall)))
#endif
