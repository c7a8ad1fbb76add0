/* The `mobj demo` command (tools/mobj/demo.c). */
#ifndef MOBJ_TOOL_DEMO_H
#define MOBJ_TOOL_DEMO_H

#include <stdio.h>

/* Runs the two-process demo with @records ring records; progress to @out,
 * problems to @err. Returns the tool's exit code (0 or 1). */
int mobj_tool_demo(unsigned long records, FILE *out, FILE *err);

#endif
