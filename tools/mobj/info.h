/* The `mobj info` command, implemented per system
 * (tools/mobj/info_<system>.c). */
#ifndef MOBJ_TOOL_INFO_H
#define MOBJ_TOOL_INFO_H

#include <stdio.h>
#include <sys/types.h>

/* Print the mobj objects process @pid holds to @out; problems to @err.
 * Returns the tool's exit code: 0, or 1 when the process cannot be
 * inspected. */
int mobj_tool_info(pid_t pid, FILE *out, FILE *err);

#endif
