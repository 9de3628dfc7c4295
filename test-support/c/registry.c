/* A C API in the style the library exists for: callbacks without a user-data pointer. */
#include <stddef.h>
#include <stdint.h>

typedef int32_t (*event_cb)(int32_t event);

static event_cb registered[8];

/* Registers a callback; returns its slot or -1 when full. */
int32_t peer_register(event_cb cb) {
    for (int32_t i = 0; i < 8; i++) {
        if (!registered[i]) { registered[i] = cb; return i; }
    }
    return -1;
}

void peer_unregister(int32_t slot) {
    if (slot >= 0 && slot < 8) registered[slot] = NULL;
}

/* Fires `event` at every registered callback and returns the sum of their results. */
int64_t peer_fire(int32_t event) {
    int64_t sum = 0;
    for (int i = 0; i < 8; i++) {
        if (registered[i]) sum += registered[i](event);
    }
    return sum;
}

/* Calls `cb` `n` times with 0..n-1 and returns the sum of its results. */
int64_t peer_call_n(int64_t (*cb)(int64_t), int64_t n) {
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) sum += cb(i);
    return sum;
}

/* A plain function, for benchmarks comparing a direct call with a thunk call. */
uint64_t peer_add(uint64_t a, uint64_t b) { return a + b; }
