/* `mobj info` where there is no implementation for the system yet. */
#include "info.h"

int mobj_tool_info(pid_t pid, FILE *out, FILE *err)
{
	(void)pid;
	(void)out;
	fprintf(err, "mobj info: not implemented on this system\n");
	return 1;
}
