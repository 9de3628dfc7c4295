/* i386_abis.c: libffi's i386 calling conventions through the C API (gcc -m32 only).
 *
 * The callees and the callers of the closures are compiled by gcc with its own attributes
 * for each convention, so every check compares the library with the compiler:
 *   - FFI_STDCALL (__attribute__((stdcall)): the callee pops), FFI_FASTCALL (fastcall: the
 *     first two integer arguments in ecx, edx), FFI_THISCALL (thiscall: the first in ecx),
 *     FFI_REGISTER with three integer arguments (eax, edx, ecx: gcc's regparm(3)),
 *     FFI_PASCAL and FFI_REGISTER with stack arguments (pushed left to right, the callee
 *     pops: gcc has neither, but a stdcall function, regparm(3) for REGISTER, with its stack
 *     parameters in reverse order has the same frame), FFI_SYSV
 *     and FFI_MS_CDECL returning a struct through a hidden pointer (cdecl callee pops it;
 *     ms_cdecl, gcc's callee_pop_aggregate_return(0), leaves it to the caller);
 *   - ffi_call with those ABIs returns with the stack balanced: call_words (assembly below)
 *     calls ffi_call and measures esp around the call;
 *   - a narrow integer result is widened to exactly one 4-byte ffi_arg: the word after it
 *     in the rvalue buffer is left alone;
 *   - closures prepared with those ABIs, called from C through function pointers of the
 *     matching convention and through call_words, which checks the bytes the closure pops:
 *     12 for a stdcall closure of three ints, 4 for fastcall and thiscall with one stack
 *     argument, 0 for cdecl, 4 for a cdecl struct return (the hidden pointer) and 0 for
 *     ms_cdecl;
 *   - Go closures with the static chain in ecx (FFI_STDCALL) and eax (FFI_FASTCALL), through
 *     ffi_call_go; ffi_prep_go_closure refuses FFI_REGISTER (FFI_BAD_ABI), as libffi;
 *   - the raw API: ffi_raw_size is the argument stack image's size and a raw closure
 *     (FFI_SYSV and FFI_THISCALL, the ABIs libffi's i386 raw closures support) gets its
 *     arguments as that image.
 *
 * Works with libffi >= 3.4 built for i386. */

#include <ffi.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#if !defined(__i386__)
#error "i386_abis.c is for i386 (gcc -m32)"
#endif

/* long long call_words(void *fn, const uint32_t *words, int n, uint32_t ecx, uint32_t edx,
 *                      uint32_t eax, int *popped)
 * Pushes words[n-1] .. words[0] (so words[0] is the first stack argument) with esp 16-byte
 * aligned at the call, loads eax, ecx and edx, calls fn, and stores in *popped the bytes the
 * callee removed from the stack (0 for a caller-pops convention). Returns edx:eax. */
long long call_words(void *fn, const uint32_t *words, int n, uint32_t ecx, uint32_t edx,
                     uint32_t eax, int *popped);
__asm__(
    ".text\n"
    ".globl call_words\n"
    ".type call_words, @function\n"
    "call_words:\n"
    "  pushl %ebp\n"
    "  movl %esp, %ebp\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  pushl %edi\n"
    "  movl 12(%ebp), %esi\n"       /* words */
    "  movl 16(%ebp), %edi\n"       /* n */
    "  leal (,%edi,4), %eax\n"      /* align so that esp is 16-aligned after the pushes */
    "  subl %eax, %esp\n"
    "  andl $-16, %esp\n"
    "  addl %eax, %esp\n"
    "  movl %edi, %ebx\n"
    "1:\n"
    "  testl %ebx, %ebx\n"
    "  jz 2f\n"
    "  decl %ebx\n"
    "  pushl (%esi,%ebx,4)\n"
    "  jmp 1b\n"
    "2:\n"
    "  movl %esp, %ebx\n"           /* esp at the call (callee-saved) */
    "  movl 20(%ebp), %ecx\n"
    "  movl 24(%ebp), %edx\n"
    "  movl 28(%ebp), %eax\n"
    "  call *8(%ebp)\n"
    "  movl %esp, %ecx\n"
    "  subl %ebx, %ecx\n"           /* bytes popped by the callee */
    "  movl 32(%ebp), %esi\n"
    "  movl %ecx, (%esi)\n"
    "  leal -12(%ebp), %esp\n"
    "  popl %edi\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  popl %ebp\n"
    "  ret\n"
    ".size call_words, . - call_words\n");

/* ---- Callees ---- */

static int __attribute__((stdcall)) std3(int a, int b, double c) {
  return a * 100 + b * 10 + (int)c;
}
static short __attribute__((stdcall)) std_short(int a) { return (short)(a * 2); }
static int __attribute__((fastcall)) fast3(int a, int b, int c) { return a * 100 + b * 10 + c; }
static int __attribute__((fastcall)) fast_mixed(char a, double d, short b, int c) {
  return a * 1000 + (int)d * 100 + b * 10 + c;
}
static int __attribute__((thiscall)) this2(int self, int b) { return self * 10 - b; }
static int __attribute__((regparm(3))) reg3(int a, int b, int c) { return a - b * c; }
/* pascal p(a, b, c) pushes a, b, c: the frame of stdcall p_rev(c, b, a). */
static int __attribute__((stdcall)) pascal_rev(int c, int b, int a) { return a * 100 + b * 10 + c; }
/* register r(a, b, c, d, e): a, b, c in eax, edx, ecx, then d, e pushed in that order: the
 * frame of regparm(3) stdcall r_rev(a, b, c, e, d). */
static int __attribute__((regparm(3), stdcall)) register_rev(int a, int b, int c, int e, int d) {
  return a * 10000 + b * 1000 + c * 100 + d * 10 + e;
}

struct s3 { int a, b, c; };
static struct s3 ret_s3(int k) { struct s3 s = {k, k + 1, k + 2}; return s; }
static struct s3 __attribute__((callee_pop_aggregate_return(0))) ret_s3_ms(int k) {
  struct s3 s = {k, -k, 2 * k};
  return s;
}
static ffi_type *s3_el[] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_sint, NULL};
static ffi_type s3_t = {0, 0, FFI_TYPE_STRUCT, s3_el};

/* Calls ffi_call(cif, fn, rvalue, avalue) through call_words: returns the bytes ffi_call
 * popped (it is cdecl: must be 0, whatever fn's convention). */
static int ffi_call_popped(ffi_cif *cif, void (*fn)(void), void *rvalue, void **avalue) {
  uint32_t words[4] = {(uint32_t)cif, (uint32_t)fn, (uint32_t)rvalue, (uint32_t)avalue};
  int popped = -1;
  call_words((void *)ffi_call, words, 4, 0, 0, 0, &popped);
  return popped;
}

static void test_calls(void) {
  ffi_cif cif;
  ffi_arg rv;

  /* stdcall: int(int, int, double). */
  ffi_type *t_std[3] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_double};
  CHECK_INT(ffi_prep_cif(&cif, FFI_STDCALL, 3, &ffi_type_sint, t_std), FFI_OK);
  CHECK_INT(cif.bytes, 16);
  int a = 3, b = 4;
  double c = 5.75;
  void *av_std[3] = {&a, &b, &c};
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(std3), &rv, av_std), 0);
  CHECK_INT((int)rv, std3(3, 4, 5.75));

  /* A short result fills exactly one 4-byte ffi_arg, sign-extended. */
  ffi_type *t_short[1] = {&ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_STDCALL, 1, &ffi_type_sshort, t_short), FFI_OK);
  ffi_arg two[2] = {0xA5A5A5A5u, 0x5A5A5A5Au};
  int neg = -3;
  void *av_short[1] = {&neg};
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(std_short), two, av_short), 0);
  CHECK_INT(two[0], 0xFFFFFFFAu);
  CHECK_INT(two[1], 0x5A5A5A5Au);

  /* fastcall: three ints (ecx, edx, stack) and a mixed signature (char in ecx, the double
   * on the stack, short in edx, int on the stack). */
  ffi_type *t_fast[3] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_FASTCALL, 3, &ffi_type_sint, t_fast), FFI_OK);
  int x = 7, y = -8, z = 9;
  void *av_fast[3] = {&x, &y, &z};
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(fast3), &rv, av_fast), 0);
  CHECK_INT((int)rv, fast3(7, -8, 9));
  ffi_type *t_fm[4] = {&ffi_type_schar, &ffi_type_double, &ffi_type_sshort, &ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_FASTCALL, 4, &ffi_type_sint, t_fm), FFI_OK);
  signed char ch = -2;
  double d = 3.5;
  short sh = 6;
  int k = 11;
  void *av_fm[4] = {&ch, &d, &sh, &k};
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(fast_mixed), &rv, av_fm), 0);
  CHECK_INT((int)rv, fast_mixed(-2, 3.5, 6, 11));

  /* thiscall: this in ecx. */
  ffi_type *t_this[2] = {&ffi_type_sint, &ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_THISCALL, 2, &ffi_type_sint, t_this), FFI_OK);
  int self = 12, arg = 5;
  void *av_this[2] = {&self, &arg};
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(this2), &rv, av_this), 0);
  CHECK_INT((int)rv, this2(12, 5));

  /* register with three integers: eax, edx, ecx, nothing on the stack (= regparm(3)). */
  CHECK_INT(ffi_prep_cif(&cif, FFI_REGISTER, 3, &ffi_type_sint, t_fast), FFI_OK);
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(reg3), &rv, av_fast), 0);
  CHECK_INT((int)rv, reg3(7, -8, 9));

  /* pascal(1, 2, 3) and register(1, 2, 3, 4, 5). */
  int p1 = 1, p2 = 2, p3 = 3, p4 = 4, p5 = 5;
  void *av_p[5] = {&p1, &p2, &p3, &p4, &p5};
  ffi_type *t_p[5] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_sint, &ffi_type_sint,
                      &ffi_type_sint};
  CHECK_INT(ffi_prep_cif(&cif, FFI_PASCAL, 3, &ffi_type_sint, t_p), FFI_OK);
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(pascal_rev), &rv, av_p), 0);
  CHECK_INT((int)rv, 123);
  CHECK_INT(ffi_prep_cif(&cif, FFI_REGISTER, 5, &ffi_type_sint, t_p), FFI_OK);
  rv = 0;
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(register_rev), &rv, av_p), 0);
  CHECK_INT((int)rv, 12345);

  /* Struct returns through a hidden pointer: SYSV (callee pops it) and MS_CDECL (caller
   * pops it). */
  ffi_type *t_k[1] = {&ffi_type_sint};
  int kk = 40;
  void *av_k[1] = {&kk};
  struct s3 r;
  CHECK_INT(ffi_prep_cif(&cif, FFI_SYSV, 1, &s3_t, t_k), FFI_OK);
  memset(&r, 0, sizeof r);
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(ret_s3), &r, av_k), 0);
  CHECK(r.a == 40 && r.b == 41 && r.c == 42);
  CHECK_INT(ffi_prep_cif(&cif, FFI_MS_CDECL, 1, &s3_t, t_k), FFI_OK);
  memset(&r, 0, sizeof r);
  CHECK_INT(ffi_call_popped(&cif, FFI_FN(ret_s3_ms), &r, av_k), 0);
  CHECK(r.a == 40 && r.b == -40 && r.c == 80);
}

/* ---- Closures ---- */

static void cb_int3(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif;
  *(ffi_sarg *)ret = *(int *)args[0] * 100 + *(int *)args[1] * 10 + *(int *)args[2] + *(int *)ud;
}
static void cb_int2(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  *(ffi_sarg *)ret = *(int *)args[0] * 10 - *(int *)args[1];
}
static void cb_int5(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  int r = 0;
  for (int i = 0; i < 5; i++)
    r = r * 10 + *(int *)args[i];
  *(ffi_sarg *)ret = r;
}
static void cb_s3(ffi_cif *cif, void *ret, void **args, void *ud) {
  (void)cif; (void)ud;
  int k = *(int *)args[0];
  struct s3 s = {k, k * 2, k * 3};
  *(struct s3 *)ret = s;
}

struct made {
  ffi_closure *writable;
  void *code;
  ffi_cif cif;
  union {
    ffi_type *args[3];
    ffi_type *args5[5];
  };
};

static int make(struct made *m, ffi_abi abi, unsigned nargs, ffi_type *rtype,
                void (*fun)(ffi_cif *, void *, void **, void *), void *ud) {
  m->writable = ffi_closure_alloc(sizeof(ffi_closure), &m->code);
  CHECK(m->writable != NULL);
  if (m->writable == NULL)
    return 0;
  CHECK_INT(ffi_prep_cif(&m->cif, abi, nargs, rtype, m->args), FFI_OK);
  CHECK_INT(ffi_prep_closure_loc(m->writable, &m->cif, fun, ud, m->code), FFI_OK);
  return 1;
}

static void test_closures(void) {
  struct made m;
  int bias = 1000, popped;
  uint32_t w3[3] = {1, 2, 3};

  /* stdcall: the closure pops its 12 bytes. */
  m.args[0] = m.args[1] = m.args[2] = &ffi_type_sint;
  if (make(&m, FFI_STDCALL, 3, &ffi_type_sint, cb_int3, &bias)) {
    int (__attribute__((stdcall)) *f)(int, int, int) = (void *)m.code;
    CHECK_INT(f(4, 5, 6), 1456);
    popped = -1;
    CHECK_INT((int)call_words(m.code, w3, 3, 0, 0, 0, &popped), 1123);
    CHECK_INT(popped, 12);
    ffi_closure_free(m.writable);
  }

  /* cdecl: the caller pops. */
  if (make(&m, FFI_SYSV, 3, &ffi_type_sint, cb_int3, &bias)) {
    int (*f)(int, int, int) = (void *)m.code;
    CHECK_INT(f(7, 8, 9), 1789);
    popped = -1;
    CHECK_INT((int)call_words(m.code, w3, 3, 0, 0, 0, &popped), 1123);
    CHECK_INT(popped, 0);
    ffi_closure_free(m.writable);
  }

  /* fastcall: ecx, edx, one stack word popped by the closure. */
  if (make(&m, FFI_FASTCALL, 3, &ffi_type_sint, cb_int3, &bias)) {
    int (__attribute__((fastcall)) *f)(int, int, int) = (void *)m.code;
    CHECK_INT(f(1, 2, 3), 1123);
    popped = -1;
    uint32_t w1[1] = {9};
    CHECK_INT((int)call_words(m.code, w1, 1, 4, 5, 0, &popped), 1459);
    CHECK_INT(popped, 4);
    ffi_closure_free(m.writable);
  }

  /* thiscall: ecx, one stack word popped by the closure. */
  m.args[0] = m.args[1] = &ffi_type_sint;
  if (make(&m, FFI_THISCALL, 2, &ffi_type_sint, cb_int2, NULL)) {
    int (__attribute__((thiscall)) *f)(int, int) = (void *)m.code;
    CHECK_INT(f(30, 4), 296);
    popped = -1;
    uint32_t w1[1] = {7};
    CHECK_INT((int)call_words(m.code, w1, 1, 5, 0, 0, &popped), 43);
    CHECK_INT(popped, 4);
    ffi_closure_free(m.writable);
  }

  /* register, three integers: eax, edx, ecx. */
  m.args[0] = m.args[1] = m.args[2] = &ffi_type_sint;
  if (make(&m, FFI_REGISTER, 3, &ffi_type_sint, cb_int3, &bias)) {
    int (__attribute__((regparm(3))) *f)(int, int, int) = (void *)m.code;
    CHECK_INT(f(2, 3, 4), 1234);
    popped = -1;
    CHECK_INT((int)call_words(m.code, NULL, 0, 6, 5, 4, &popped), 1456);
    CHECK_INT(popped, 0);
    ffi_closure_free(m.writable);
  }

  /* pascal: arguments pushed left to right, popped by the closure. */
  if (make(&m, FFI_PASCAL, 3, &ffi_type_sint, cb_int3, &bias)) {
    int (__attribute__((stdcall)) *f)(int, int, int) = (void *)m.code; /* reversed */
    CHECK_INT(f(3, 2, 1), 1123);
    popped = -1;
    uint32_t wp[3] = {6, 5, 4}; /* the last argument on top */
    CHECK_INT((int)call_words(m.code, wp, 3, 0, 0, 0, &popped), 1456);
    CHECK_INT(popped, 12);
    ffi_closure_free(m.writable);
  }

  /* register with five integers: eax, edx, ecx, then two pushed left to right. */
  struct made m5;
  for (int i = 0; i < 5; i++)
    m5.args5[i] = &ffi_type_sint;
  m5.writable = ffi_closure_alloc(sizeof(ffi_closure), &m5.code);
  CHECK(m5.writable != NULL);
  if (m5.writable != NULL) {
    CHECK_INT(ffi_prep_cif(&m5.cif, FFI_REGISTER, 5, &ffi_type_sint, m5.args5), FFI_OK);
    CHECK_INT(ffi_prep_closure_loc(m5.writable, &m5.cif, cb_int5, NULL, m5.code), FFI_OK);
    int (__attribute__((regparm(3), stdcall)) *f)(int, int, int, int, int) = (void *)m5.code;
    CHECK_INT(f(1, 2, 3, 5, 4), 12345); /* the stack arguments reversed */
    popped = -1;
    uint32_t w2[2] = {9, 8}; /* e on top, then d */
    CHECK_INT((int)call_words(m5.code, w2, 2, 7, 6, 5, &popped), 56789);
    CHECK_INT(popped, 8);
    ffi_closure_free(m5.writable);
  }

  /* Struct returns: a cdecl closure pops the hidden pointer, an ms_cdecl one does not. */
  m.args[0] = &ffi_type_sint;
  if (make(&m, FFI_SYSV, 1, &s3_t, cb_s3, NULL)) {
    struct s3 (*f)(int) = (void *)m.code;
    struct s3 r = f(5);
    CHECK(r.a == 5 && r.b == 10 && r.c == 15);
    struct s3 r2;
    memset(&r2, 0, sizeof r2);
    uint32_t w[2] = {(uint32_t)&r2, 6};
    popped = -1;
    CHECK_INT((int)call_words(m.code, w, 2, 0, 0, 0, &popped), (int)&r2);
    CHECK_INT(popped, 4);
    CHECK(r2.a == 6 && r2.b == 12 && r2.c == 18);
    ffi_closure_free(m.writable);
  }
  if (make(&m, FFI_MS_CDECL, 1, &s3_t, cb_s3, NULL)) {
    struct s3 __attribute__((callee_pop_aggregate_return(0))) (*f)(int) = (void *)m.code;
    struct s3 r = f(7);
    CHECK(r.a == 7 && r.b == 14 && r.c == 21);
    struct s3 r2;
    memset(&r2, 0, sizeof r2);
    uint32_t w[2] = {(uint32_t)&r2, 8};
    popped = -1;
    CHECK_INT((int)call_words(m.code, w, 2, 0, 0, 0, &popped), (int)&r2);
    CHECK_INT(popped, 0);
    CHECK(r2.a == 8 && r2.b == 16 && r2.c == 24);
    ffi_closure_free(m.writable);
  }
}

/* ---- Go closures ---- */

static void go_fun(ffi_cif *cif, void *ret, void **args, void *closure) {
  (void)cif;
  *(ffi_sarg *)ret = *(int *)args[0] * 100 + *(int *)args[1] * 10 + *(int *)args[2] +
                     (closure != NULL ? 5000 : 0);
  CHECK(((ffi_go_closure *)closure)->fun == go_fun);
}

static void test_go(void) {
  ffi_type *t[3] = {&ffi_type_sint, &ffi_type_sint, &ffi_type_sint};
  ffi_abi abis[2] = {FFI_STDCALL, FFI_FASTCALL}; /* chain in ecx, in eax */
  for (int i = 0; i < 2; i++) {
    ffi_cif cif;
    CHECK_INT(ffi_prep_cif(&cif, abis[i], 3, &ffi_type_sint, t), FFI_OK);
    ffi_go_closure gc;
    CHECK_INT(ffi_prep_go_closure(&gc, &cif, go_fun), FFI_OK);
    int a = 1, b = 2, c = 3;
    void *av[3] = {&a, &b, &c};
    ffi_arg rv = 0;
    ffi_call_go(&cif, FFI_FN(gc.tramp), &rv, av, &gc);
    CHECK_INT((int)rv, 5123);
  }
  /* gcc's own static chain call (ecx for a stdcall function). */
  ffi_cif cif;
  CHECK_INT(ffi_prep_cif(&cif, FFI_STDCALL, 3, &ffi_type_sint, t), FFI_OK);
  ffi_go_closure gc;
  CHECK_INT(ffi_prep_go_closure(&gc, &cif, go_fun), FFI_OK);
  int (__attribute__((stdcall)) *f)(int, int, int) = gc.tramp;
  CHECK_INT(__builtin_call_with_static_chain(f(4, 5, 6), &gc), 5456);
  /* REGISTER has no static chain. */
  CHECK_INT(ffi_prep_cif(&cif, FFI_REGISTER, 3, &ffi_type_sint, t), FFI_OK);
  CHECK_INT(ffi_prep_go_closure(&gc, &cif, go_fun), FFI_BAD_ABI);
}

/* ---- Raw API ---- */

static void raw_fun(ffi_cif *cif, void *ret, ffi_raw *raw, void *ud) {
  (void)cif; (void)ud;
  /* (int a, double d, int b): a in slot 0, d in slots 1-2, b in slot 3. */
  double d;
  memcpy(&d, &raw[1], sizeof d);
  *(ffi_sarg *)ret = raw[0].sint * 100 + (int)d * 10 + raw[3].sint;
}

static void test_raw(void) {
  ffi_type *t[3] = {&ffi_type_sint, &ffi_type_double, &ffi_type_sint};
  ffi_abi abis[2] = {FFI_SYSV, FFI_THISCALL};
  for (int i = 0; i < 2; i++) {
    ffi_cif cif;
    CHECK_INT(ffi_prep_cif(&cif, abis[i], 3, &ffi_type_sint, t), FFI_OK);
    CHECK_INT(ffi_raw_size(&cif), 16);
    void *code;
    ffi_raw_closure *rc = ffi_closure_alloc(sizeof(ffi_raw_closure), &code);
    CHECK(rc != NULL);
    if (rc == NULL)
      continue;
    CHECK_INT(ffi_prep_raw_closure_loc(rc, &cif, raw_fun, NULL, code), FFI_OK);
    int r;
    if (abis[i] == FFI_SYSV)
      r = ((int (*)(int, double, int))code)(1, 2.0, 3);
    else
      r = ((int (__attribute__((thiscall)) *)(int, double, int))code)(1, 2.0, 3);
    CHECK_INT(r, 123);
    /* ffi_raw_call with the stack image built by hand. */
    ffi_raw raw[4];
    double d = 4.0;
    raw[0].sint = 5;
    memcpy(&raw[1], &d, sizeof d);
    raw[3].sint = 6;
    ffi_arg rv = 0;
    ffi_raw_call(&cif, FFI_FN(code), &rv, raw);
    CHECK_INT((int)rv, 546);
    ffi_closure_free(rc);
  }
}

int main(void) {
  test_calls();
  test_closures();
  test_go();
  test_raw();
  return finish("i386_abis");
}
