/* The loops scripts/callgrind-capi counts: each mode repeats one libffi operation n times,
 * so that (instructions(2n) - instructions(n)) / n is the cost of one iteration. Built
 * against the system ffi.h and libffi; closure-ffi's library is swapped in with LD_PRELOAD
 * (same soname and symbol versions). Call plans are looked up with dlsym, because the
 * system libffi (3.4.4 here) has none. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long add3(long a, long b, long c) { return a + b + c; }

static void add3_closure(ffi_cif *cif, void *ret, void **args, void *user_data) {
    (void)cif;
    (void)user_data;
    *(ffi_arg *)ret = *(long *)args[0] + *(long *)args[1] + *(long *)args[2];
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: loop call|prep_call|plan|closure|closure_create N\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    ffi_cif cif;
    ffi_type *at[3] = {&ffi_type_slong, &ffi_type_slong, &ffi_type_slong};
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_slong, at) != FFI_OK)
        return 1;
    long a = 1, b = 2, c = 3, sum = 0;
    ffi_arg r = 0;
    void *av[3] = {&a, &b, &c};

    if (!strcmp(mode, "call")) {
        for (long i = 0; i < n; i++) {
            ffi_call(&cif, FFI_FN(add3), &r, av);
            sum += (long)r;
        }
    } else if (!strcmp(mode, "prep_call")) { /* what ctypes does for every call */
        for (long i = 0; i < n; i++) {
            ffi_cif local;
            ffi_prep_cif(&local, FFI_DEFAULT_ABI, 3, &ffi_type_slong, at);
            ffi_call(&local, FFI_FN(add3), &r, av);
            sum += (long)r;
        }
    } else if (!strcmp(mode, "plan")) {
        void *(*alloc)(ffi_cif *) = (void *(*)(ffi_cif *))dlsym(RTLD_DEFAULT, "ffi_call_plan_alloc");
        void (*invoke)(void *, void (*)(void), void *, void **) =
            (void (*)(void *, void (*)(void), void *, void **))dlsym(RTLD_DEFAULT, "ffi_call_plan_invoke");
        if (!alloc || !invoke) {
            fprintf(stderr, "this libffi has no call plans\n");
            return 3;
        }
        void *plan = alloc(&cif);
        for (long i = 0; i < n; i++) {
            invoke(plan, FFI_FN(add3), &r, av);
            sum += (long)r;
        }
    } else if (!strcmp(mode, "closure")) {
        void *code;
        ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
        if (!cl || ffi_prep_closure_loc(cl, &cif, add3_closure, NULL, code) != FFI_OK)
            return 1;
        long (*f)(long, long, long) = (long (*)(long, long, long))code;
        for (long i = 0; i < n; i++)
            sum += f(i, 2, 3);
        ffi_closure_free(cl);
    } else if (!strcmp(mode, "closure_create")) {
        for (long i = 0; i < n; i++) {
            void *code;
            ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
            if (!cl || ffi_prep_closure_loc(cl, &cif, add3_closure, NULL, code) != FFI_OK)
                return 1;
            sum += (long)(code != NULL);
            ffi_closure_free(cl);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%ld\n", sum);
    return 0;
}
