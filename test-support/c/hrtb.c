/* The C side of tests/macros.rs (bare_hrtb!): callers of callbacks whose result is the
 * address of one of their arguments, the C view of a higher-ranked Rust signature such as
 * `for<'a, 'b> extern "C" fn(&'a c_char, &'b c_char) -> &'a c_char`. */
#include <stddef.h>
#include <stdint.h>

typedef const char *(*hrtb_pick_cb)(const char *a, const char *b);

/* Returns `cb(a, b)`. */
const char *hrtb_call_pick(hrtb_pick_cb cb, const char *a, const char *b) { return cb(a, b); }

typedef const int32_t *(*hrtb_choose_cb)(const int32_t *a, const int32_t *b);

/* Folds `items[0..n]` with `cb`, which returns one of its two arguments; returns the
 * address it ends with (NULL when `n` is 0). */
const int32_t *hrtb_fold(hrtb_choose_cb cb, const int32_t *items, size_t n) {
    if (n == 0) return NULL;
    const int32_t *acc = &items[0];
    for (size_t i = 1; i < n; i++) acc = cb(acc, &items[i]);
    return acc;
}
