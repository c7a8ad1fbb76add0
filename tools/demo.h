/* The `mobj demo` command (tools/demo.c). */
#ifndef MOBJ_TOOL_DEMO_H
#define MOBJ_TOOL_DEMO_H

#include <stdio.h>

/* Exit code when the system lacks what the demo needs (meson: skipped). */
#define MOBJ_TOOL_UNSUPPORTED 77

/* Runs the two-process demo with @records ring records; progress to @out,
 * problems to @err. Returns the tool's exit code (0, 1 or MOBJ_TOOL_UNSUPPORTED). */
int mobj_tool_demo(unsigned long records, FILE *out, FILE *err);

#endif
