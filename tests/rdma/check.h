/* SPDX-License-Identifier: Apache-2.0 */
/* The RDMA tests' one assertion: print [ok] or [FAIL] with the check's text, count failures. */
#ifndef PRB_TESTS_RDMA_CHECK_H
#define PRB_TESTS_RDMA_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("[ok]   ");                                                         \
		} else {                                                                           \
			printf("[FAIL] %s:%d: ", __FILE__, __LINE__);                              \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

#endif
