/*
 * mobj: the command-line tool. `mobj info PID` shows the memory objects a
 * process holds; `mobj demo` runs the two-process ring and read-only view
 * demonstration (where it is built).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "mobj/mobj.h"
#include "info.h"
#ifdef MOBJ_TOOL_DEMO
#include "demo.h"
#endif

static const char usage[] =
	"usage: mobj COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  info PID        list the mobj memory objects process PID holds: each\n"
	"                  handle (fd) with its size, access, seals, and where the\n"
	"                  object is mapped (mirrors shown as such), then objects\n"
	"                  still mapped with no handle left\n"
#ifdef MOBJ_TOOL_DEMO
	"  demo [RECORDS]  two processes: a producer streams RECORDS records\n"
	"                  (default 100000) through a mirrored ring to a consumer\n"
	"                  that verifies them, then hands the consumer a read-only\n"
	"                  view, whose every write attempt must be refused\n"
#endif
	"  version         print the library version\n"
	"  help, --help    this text\n"
	"\n"
	"exit status:\n"
	"  0  success\n"
	"  1  the command failed (no such process, no permission, a check in\n"
	"     the demo failed)\n"
	"  2  usage error\n"
	;

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "mobj: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nRun 'mobj --help' for usage.\n");
	return 2;
}

/* A positive decimal number that fits in @max, or -1. */
static long long parse_number(const char *s, long long max)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0 || v > max)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd)
		return usage_error("%s", "missing command");
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		if (argc > 2)
			return usage_error("'%s' takes no arguments", cmd);
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2)
			return usage_error("'%s' takes no arguments", cmd);
		printf("mobj %s\n", MOBJ_VERSION_STRING);
		return 0;
	}
	if (!strcmp(cmd, "info")) {
		long long pid;

		if (argc != 3)
			return usage_error("%s", "info needs exactly one PID");
		pid = parse_number(argv[2], INT_MAX);
		if (pid < 0)
			return usage_error("'%s' is not a process id", argv[2]);
		return mobj_tool_info((pid_t)pid, stdout, stderr);
	}
#ifdef MOBJ_TOOL_DEMO
	if (!strcmp(cmd, "demo")) {
		long long records = 100000;

		if (argc > 3)
			return usage_error("%s", "demo takes at most one argument");
		if (argc == 3) {
			records = parse_number(argv[2], 1000000000);
			if (records < 0)
				return usage_error("'%s' is not a record count (1 to 10^9)",
				                   argv[2]);
		}
		/* Line by line, so two processes' lines interleave whole. */
		setvbuf(stdout, NULL, _IOLBF, 0);
		return mobj_tool_demo((unsigned long)records, stdout, stderr);
	}
#endif
	return usage_error("unknown command '%s'", cmd);
}
