/* C callers of C-variadic callbacks (closure-ffi feature `c_variadic`, tests/variadic.rs).
 *
 * Each caller passes a printf-style format and the arguments it announces, so a callback can
 * either hand its va_list to vsnprintf or read the arguments itself following the format.
 * The argument lists are chosen to cover both paths of the SysV x86_64 variadic prologue
 * (al = 0: the XMM spills are skipped; al > 0: they run) and arguments that overflow the
 * argument registers onto the stack; on i686 every variable argument is on the stack. */
#include <stdarg.h>
#include <stdint.h>

typedef int (*var_fmt_cb)(const char *fmt, ...);
typedef double (*var_scaled_cb)(int32_t count, double scale, const char *tag, ...);

/* Mixed arguments, with the default promotions: char and short to int, float to double. */
int var_call_mixed(var_fmt_cb cb) {
    char c = 'x';
    short s = -7;
    float f = 0.25f;
    long long ll = 0x123456789LL;
    return cb("i=%d ll=%lld d=%.3f s=%s c=%c h=%d f=%.2f", -42, ll, 2.5, "str", c, s, f);
}

/* Integer-class arguments only: al = 0 on SysV x86_64 (no XMM spills). Ten of them, so
 * that with the format pointer they overflow the six integer registers. */
int var_call_ints(var_fmt_cb cb) {
    return cb("%d %d %lld %u %d %s %d %lld %d %d", 1, -2, -3000000000LL, 4000000000u, 5,
              "abcdef", 7, 8000000000LL, 9, -10);
}

/* Ten doubles interleaved with ten integers: both the 8 XMM and the 6 integer argument
 * registers overflow onto the stack. */
int var_call_many(var_fmt_cb cb) {
    return cb("%d %f %d %f %lld %f %d %f %d %f %d %f %d %f %lld %f %d %f %d %f",
              1, 0.5, 2, 1.5, 3LL, 2.5, 4, 3.5, 5, 4.5, 6, 5.5, 7, 6.5, 8LL, 7.5, 9, 8.5,
              10, 9.5);
}

/* Calls `cb("%d", i)` for i in 0..n and returns the sum of the results. */
int64_t var_call_n(var_fmt_cb cb, int32_t n) {
    int64_t sum = 0;
    for (int32_t i = 0; i < n; i++) sum += cb("%d", i);
    return sum;
}

/* Three fixed arguments (one of them a double) before the variable ones. */
double var_call_scaled(var_scaled_cb cb) {
    return cb(3, 0.5, "tag", 1.0, 2.0, 4.0);
}
