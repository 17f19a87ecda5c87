/* SPDX-License-Identifier: Apache-2.0 */
#include "suite.h"

const struct cf_test cf_tests_concurrency[] = {
	{ NULL, NULL, NULL, false, 0, 0, NULL },
};
