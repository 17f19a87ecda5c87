/* SPDX-License-Identifier: Apache-2.0 */
/* JUnit-style XML results (the format CI systems read): one testsuite per family. */
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Write s with the five XML specials escaped and control characters dropped. */
static void put_escaped(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* Length of the family part of a test name (before the first dot). */
static size_t prefix_len(const char *name)
{
	const char *dot = strchr(name, '.');

	return dot ? (size_t)(dot - name) : strlen(name);
}

/* Do two test names belong to the same family? */
static bool same_family(const char *a, const char *b)
{
	return prefix_len(a) == prefix_len(b) && strncmp(a, b, prefix_len(a)) == 0;
}

/* One <testcase>: classname Family.Suite, name Test. */
static void put_case(FILE *f, const struct cf_result *r)
{
	const char *name = r->test->name;
	const char *last = strrchr(name, '.');
	int class_len = last ? (int)(last - name) : (int)strlen(name);

	fprintf(f, "    <testcase classname=\"%.*s\" name=\"%s\" time=\"%.3f\">\n", class_len, name,
		last ? last + 1 : name, r->seconds);
	fputs("      <properties><property name=\"requirements\" value=\"", f);
	put_escaped(f, r->test->reqs);
	fprintf(f, "\"/><property name=\"kind\" value=\"%s\"/></properties>\n",
		r->test->mandatory ? "mandatory" : "optional");
	if (r->outcome == CF_FAILED) {
		/* The message names the requirements the failed checks break: a failed setup
		 * step's, not the test's own (type "setup" then). */
		fputs("      <failure message=\"", f);
		put_escaped(f, r->blamed[0] ? r->blamed : r->test->reqs);
		fprintf(f, "\" type=\"%s\">", r->setup_failed && !r->own_failed ? "setup" : "check");
		put_escaped(f, r->failures);
		fputs("</failure>\n", f);
	} else if (r->outcome == CF_SKIPPED || r->outcome == CF_NOT_RUN) {
		fputs("      <skipped message=\"", f);
		put_escaped(f, r->reason);
		fputs("\"/>\n", f);
	}
	if (r->notes[0] && r->outcome != CF_SKIPPED) {
		fputs("      <system-out>not checked here: ", f);
		put_escaped(f, r->notes);
		fputs("</system-out>\n", f);
	}
	fputs("    </testcase>\n", f);
}

int cf_junit_write(const char *path, const char *url, const struct cf_result *results, size_t n)
{
	FILE *f = fopen(path, "w");
	unsigned failed = 0, skipped = 0;

	if (!f)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		failed += results[i].outcome == CF_FAILED;
		skipped += results[i].outcome != CF_FAILED && results[i].outcome != CF_PASSED;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f,
		"<testsuites name=\"prb-conformance\" tests=\"%zu\" failures=\"%u\" "
		"skipped=\"%u\">\n",
		n, failed, skipped);
	for (size_t i = 0; i < n; i++) {
		const char *name = results[i].test->name;
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (same_family(results[j].test->name, name))
				first = false;
		if (!first)
			continue;
		unsigned t = 0, fl = 0, sk = 0;
		double secs = 0;
		for (size_t j = i; j < n; j++) {
			if (!same_family(results[j].test->name, name))
				continue;
			t++;
			fl += results[j].outcome == CF_FAILED;
			sk += results[j].outcome == CF_SKIPPED || results[j].outcome == CF_NOT_RUN;
			secs += results[j].seconds;
		}
		fprintf(f,
			"  <testsuite name=\"%.*s\" tests=\"%u\" failures=\"%u\" errors=\"0\" "
			"skipped=\"%u\" time=\"%.3f\">\n",
			(int)prefix_len(name), name, t, fl, sk, secs);
		fputs("    <properties><property name=\"url\" value=\"", f);
		put_escaped(f, url);
		fputs("\"/></properties>\n", f);
		for (size_t j = i; j < n; j++)
			if (same_family(results[j].test->name, name))
				put_case(f, &results[j]);
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

int cf_junit_write_error(const char *path, const char *url, const char *why)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fputs("<testsuites name=\"prb-conformance\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
	      "  <testsuite name=\"prb-conformance\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
	      "    <testcase classname=\"prb-conformance\" name=\"Connect\">\n"
	      "      <error message=\"",
	      f);
	put_escaped(f, why);
	fputs("\">", f);
	put_escaped(f, url);
	fputs("</error>\n    </testcase>\n  </testsuite>\n</testsuites>\n", f);
	return fclose(f) != 0 ? -errno : 0;
}
