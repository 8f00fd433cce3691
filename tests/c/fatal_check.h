/*
 * fatal_check.h: CHECK for the switch tests (switch_all_test.c,
 * switch_asm_test.c), which test the shim below the C API: a failed check
 * prints file:line and the condition, then exits 1.  Nothing after a broken
 * switch can be trusted, so there is no counting and no going on.
 */
#ifndef JMPCO_TESTS_FATAL_CHECK_H
#define JMPCO_TESTS_FATAL_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

#endif /* JMPCO_TESTS_FATAL_CHECK_H */
