/* Native handles of the Darwin backend. */
#ifndef MOBJ_DARWIN_OS_TYPES_H
#define MOBJ_DARWIN_OS_TYPES_H

#include <mach/port.h>

struct mobj__os_obj {
	/* A send right to a named memory entry (one user reference owned by
	 * this handle). Read-only handles are child entries made with
	 * VM_PROT_READ only, so the kernel refuses to map them writable. */
	mach_port_t port;
};

#endif
