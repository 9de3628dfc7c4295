/* check.h: the checks every C API test program shares.
 *
 * CHECK(cond) and CHECK_INT(got, want) report a failure with its file, line and text (and
 * both values) and count it; finish(name) prints the verdict and gives main's exit status.
 * The count is atomic because several programs check from many threads. */

#ifndef CLOSURE_FFI_CAPI_CHECK_H
#define CLOSURE_FFI_CAPI_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
      __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                               \
    }                                                                                   \
  } while (0)

#define CHECK_INT(got, want) check_int(__FILE__, __LINE__, #got, (long long)(got), (long long)(want))
static inline void check_int(const char *file, int line, const char *expr, long long got,
                             long long want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s: got %lld (0x%llx), want %lld (0x%llx)\n", file, line, expr,
            got, (unsigned long long)got, want, (unsigned long long)want);
    __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
  }
}

static inline int finish(const char *name) {
  int n = __atomic_load_n(&failures, __ATOMIC_RELAXED);
  if (n != 0) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, n);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

#endif
