/* Functions to detour, for the hooking example, test and doctest, each with a C caller so
 * that a hooked call really goes from C code through the patched function.
 *
 * `noipa` (GCC 8+: no inlining, cloning, identical-code folding or interprocedural
 * propagation) keeps every call a real call to the exported symbol; a function the callers
 * inlined could not be hooked. Every test hooks its own target, because the test harness
 * runs tests on parallel threads.
 *
 * FIXME(Hpmason/retour-rs, no upstream issue found): the bodies use no globals. On i686, PIC
 * code starts by loading its own address with `call __x86.get_pc_thunk.r`; retour copies
 * that call into the trampoline unchanged (src/arch/x86/trampoline/mod.rs: "Calls are not an
 * issue since they return to the original address"), so the register receives the
 * trampoline's address and calling the original crashes (checked: SIGSEGV). The same bug,
 * elsewhere: stevemk14ebr/PolyHook_2_0#215; fixed by cursey/safetyhook#110 (replace the call
 * with `mov r, <original return address>`, which closure-ffi's relocator also does). */
#include <stdint.h>

#define HOOKABLE __attribute__((noipa, noinline))

/* The example and the crate docs: `3 * x + 1`. */
HOOKABLE int32_t hook_target_scale(int32_t x) { return 3 * x + 1; }
HOOKABLE int32_t hook_call_scale(int32_t x) { return hook_target_scale(x); }

/* The BareFnMut test: `x * x - 5`. */
HOOKABLE int32_t hook_target_square(int32_t x) { return x * x - 5; }
HOOKABLE int32_t hook_call_square(int32_t x) { return hook_target_square(x); }

/* The thunk_factory test: `(a << 8) | b`. */
HOOKABLE uint32_t hook_target_pack(uint32_t a, uint8_t b) { return (a << 8) | b; }
HOOKABLE uint32_t hook_call_pack(uint32_t a, uint8_t b) { return hook_target_pack(a, b); }

/* The mixed-signature test: `(a + b + *p) * scale`, with ints, a double and a pointer. */
HOOKABLE double hook_target_mix(int32_t a, int64_t b, double scale, const int32_t *p) {
    return (double)((int64_t)a + b + (int64_t)*p) * scale;
}
HOOKABLE double hook_call_mix(int32_t a, int64_t b, double scale, const int32_t *p) {
    return hook_target_mix(a, b, scale, p);
}

#if defined(__i386__)
/* A C++-style member function, as 32-bit games are full of: `thiscall` passes `self` in ecx
 * and the callee pops the stack arguments. Takes `amount` damage; returns the health left. */
typedef struct {
    int32_t health;
    int32_t armor;
} HookPlayer;

HOOKABLE __attribute__((thiscall)) int32_t hook_target_damage(HookPlayer *self, int32_t amount) {
    int32_t taken = amount > self->armor ? amount - self->armor : 0;
    self->health -= taken;
    return self->health;
}
HOOKABLE int32_t hook_call_damage(HookPlayer *player, int32_t amount) {
    return hook_target_damage(player, amount);
}
#endif

#if defined(__arm__)
/* The 32-bit Arm hooking test (tests/hooking_arm.rs) replaces the first 8 bytes with an
 * absolute jump (`ldr pc, [pc, #-4]` or `ldr.w pc, [pc, #n]`, then the address), so these
 * bodies are longer than that in A32 and in T32. `((3x + 7) * x - 11) ^ 5`. */
HOOKABLE int32_t hook_target_poly(int32_t x) { return ((x * 3 + 7) * x - 11) ^ 5; }
HOOKABLE int32_t hook_call_poly(int32_t x) { return hook_target_poly(x); }
/* `((5x - 3) * x + 13) ^ 9`. */
HOOKABLE int32_t hook_target_poly2(int32_t x) { return ((x * 5 - 3) * x + 13) ^ 9; }
HOOKABLE int32_t hook_call_poly2(int32_t x) { return hook_target_poly2(x); }
#endif
