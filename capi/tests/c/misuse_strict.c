/* misuse_strict.c: invalid input that libffi itself does not survive gets a status here.
 *
 * libffi 3.4 dereferences these NULL pointers (or aborts on the unknown type code) and
 * accepts nfixedargs > ntotalargs; closure-ffi's libffi promises a status instead. So this
 * program only runs against closure-ffi's libffi.
 *
 * Checks (each must return a status other than FFI_OK, and not crash):
 *   - ffi_prep_cif / ffi_prep_cif_var with cif == NULL;
 *   - rtype == NULL;
 *   - atypes == NULL with nargs > 0, and a NULL entry in atypes;
 *   - ffi_prep_cif_var with nfixedargs > ntotalargs;
 *   - an unknown type code (99), directly and as a struct member;
 *   - ffi_get_struct_offsets with struct_type == NULL;
 *   - a struct that contains itself (a cycle), nesting deeper than 64, and a small DAG of
 *     structs that share members and would take 2^40 steps to walk naively;
 *   - a vector type (FFI_TYPE_VECTOR) and a scalar object with a non-standard size;
 *   - a struct whose preset size fits neither its members' struct nor union layout and
 *     holds a double (FFI_BAD_TYPEDEF);
 *   - ffi_prep_closure_loc with NULL closure, cif, fun or codeloc;
 * and these do nothing instead of crashing:
 *   - ffi_call with a NULL cif, a NULL function, or NULL avalue for a cif with arguments;
 *   - ffi_closure_free of a pointer the library never allocated;
 *   - ffi_call_plan_alloc(NULL) (returns NULL) and ffi_call_plan_invoke(NULL, ...);
 * and a cif whose flags were clobbered after preparation is prepared again by ffi_call
 * (the right result), and a valid cif still works afterwards. */

#include <ffi.h>

#include <stdio.h>

#include "check.h"

/* A status other than FFI_OK; shows the call on failure. */
#define CHECK_NOT_OK(call)                                                              \
  do {                                                                                  \
    ffi_status st_ = (call);                                                            \
    if (st_ == FFI_OK) {                                                                \
      fprintf(stderr, "%s:%d: %s: got FFI_OK, want an error status\n", __FILE__,        \
              __LINE__, #call);                                                         \
      failures++;                                                                       \
    }                                                                                   \
  } while (0)

static int add(int a, int b) { return a + b; }

static void closure_fun(ffi_cif *cif, void *ret, void **args, void *user_data) {
  (void)cif;
  (void)args;
  (void)user_data;
  *(ffi_arg *)ret = 0;
}

int main(void) {
  ffi_cif cif;
  ffi_type *two_int[2] = {&ffi_type_sint, &ffi_type_sint};
  ffi_type *with_null[2] = {&ffi_type_sint, NULL};

  CHECK_NOT_OK(ffi_prep_cif(NULL, FFI_DEFAULT_ABI, 2, &ffi_type_sint, two_int));
  CHECK_NOT_OK(ffi_prep_cif_var(NULL, FFI_DEFAULT_ABI, 1, 2, &ffi_type_sint, two_int));

  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, NULL, two_int));
  CHECK_NOT_OK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, NULL, two_int));

  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, NULL));
  CHECK_NOT_OK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_sint, NULL));
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, with_null));

  CHECK_NOT_OK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 2, &ffi_type_sint, two_int));

  ffi_type unknown = {4, 4, 99, NULL};
  ffi_type *bad_arg[1] = {&unknown};
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, bad_arg));
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &unknown, NULL));
  ffi_type *bad_el[3] = {&ffi_type_sint, &unknown, NULL};
  ffi_type bad_struct = {0, 0, FFI_TYPE_STRUCT, bad_el};
  ffi_type *bad_struct_arg[1] = {&bad_struct};
  CHECK_NOT_OK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, bad_struct_arg));

  size_t offs[2];
  CHECK_NOT_OK(ffi_get_struct_offsets(FFI_DEFAULT_ABI, NULL, offs));

  /* A struct that contains itself. */
  ffi_type cyclic = {0, 0, FFI_TYPE_STRUCT, NULL};
  ffi_type *cyclic_el[3] = {&ffi_type_sint, &cyclic, NULL};
  cyclic.elements = cyclic_el;
  ffi_type *cyclic_arg[1] = {&cyclic};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, cyclic_arg) == FFI_BAD_TYPEDEF);

  /* 100 levels of struct { struct { ... int } }. */
  enum { LEVELS = 100 };
  ffi_type nested[LEVELS];
  ffi_type *nested_el[LEVELS][2];
  for (int i = 0; i < LEVELS; i++) {
    nested_el[i][0] = i == 0 ? &ffi_type_sint : &nested[i - 1];
    nested_el[i][1] = NULL;
    nested[i] = (ffi_type){0, 0, FFI_TYPE_STRUCT, nested_el[i]};
  }
  ffi_type *deep_arg[1] = {&nested[LEVELS - 1]};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, deep_arg) == FFI_BAD_TYPEDEF);

  /* Level i is struct { level i-1, level i-1 }: 40 levels = 2^40 leaves. The size limit
     (2 GiB) or the walk limit must stop it quickly. */
  enum { DAG = 40 };
  ffi_type dag[DAG];
  ffi_type *dag_el[DAG][3];
  for (int i = 0; i < DAG; i++) {
    ffi_type *below = i == 0 ? &ffi_type_uchar : &dag[i - 1];
    dag_el[i][0] = below;
    dag_el[i][1] = below;
    dag_el[i][2] = NULL;
    dag[i] = (ffi_type){0, 0, FFI_TYPE_STRUCT, dag_el[i]};
  }
  ffi_type *dag_arg[1] = {&dag[DAG - 1]};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, dag_arg) == FFI_BAD_TYPEDEF);

  /* Vector types are not supported; a scalar code with another size is refused. */
  ffi_type *four_floats[5] = {&ffi_type_float, &ffi_type_float, &ffi_type_float,
                              &ffi_type_float, NULL};
  ffi_type vector = {0, 0, 18 /* FFI_TYPE_VECTOR in libffi 3.8 */, four_floats};
  ffi_type *vector_arg[1] = {&vector};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, vector_arg) == FFI_BAD_TYPEDEF);
  ffi_type odd_int = {8, 8, FFI_TYPE_SINT32, NULL};
  ffi_type *odd_arg[1] = {&odd_int};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, odd_arg) == FFI_BAD_TYPEDEF);

  /* A preset size that is neither the members' struct nor union layout, with a double at
     an unknown offset (preset_layout.c has the accepted cases). */
  ffi_type *int_double[3] = {&ffi_type_sint, &ffi_type_double, NULL};
  ffi_type preset = {24, 8, FFI_TYPE_STRUCT, int_double};
  ffi_type *preset_arg[1] = {&preset};
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, preset_arg) == FFI_BAD_TYPEDEF);

  /* Closures: every NULL is refused. */
  ffi_cif ok_cif;
  CHECK(ffi_prep_cif(&ok_cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, two_int) == FFI_OK);
  void *code = NULL;
  ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
  CHECK(cl != NULL && code != NULL);
  CHECK_NOT_OK(ffi_prep_closure_loc(NULL, &ok_cif, closure_fun, NULL, code));
  CHECK_NOT_OK(ffi_prep_closure_loc(cl, NULL, closure_fun, NULL, code));
  CHECK_NOT_OK(ffi_prep_closure_loc(cl, &ok_cif, NULL, NULL, code));
  CHECK_NOT_OK(ffi_prep_closure_loc(cl, &ok_cif, closure_fun, NULL, NULL));
  ffi_closure_free(cl);
  static char not_a_closure[64];
  ffi_closure_free(not_a_closure);

  /* Calls that cannot be made do nothing. */
  int x = 1, y = 2;
  void *xy[2] = {&x, &y};
  ffi_arg untouched = 12345;
  ffi_call(NULL, FFI_FN(add), &untouched, xy);
  ffi_call(&ok_cif, NULL, &untouched, xy);
  ffi_call(&ok_cif, FFI_FN(add), &untouched, NULL);
  CHECK(untouched == 12345);
  CHECK(ffi_call_plan_alloc(NULL) == NULL);
  ffi_call_plan_invoke(NULL, FFI_FN(add), &untouched, xy);
  CHECK(untouched == 12345);

  /* A cif whose flags were overwritten is prepared again from its fields. */
  ffi_cif clobbered = ok_cif;
  clobbered.flags = 0xdeadbeef;
  ffi_call(&clobbered, FFI_FN(add), &untouched, xy);
  CHECK((int)untouched == 3);

  /* Still usable. */
  CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, two_int) == FFI_OK);
  int a = 40, b = 2;
  void *av[2] = {&a, &b};
  ffi_arg r = 0;
  ffi_call(&cif, FFI_FN(add), &r, av);
  CHECK((int)r == 42);

  return finish("misuse_strict");
}
