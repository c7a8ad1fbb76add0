/*
 * The Darwin half of testutil: VM regions and Mach port names counted
 * through the task port, writes through mach_vm_write(), and a channel
 * between a parent and the child it forks, met through a name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mach/mach.h>
#include <mach-o/dyld.h>

#include "mobj/chan.h"
#include "testutil.h"

/* The regions the backend maps: vm_map with VM_INHERIT_NONE (as Chromium,
 * Gecko and WebKit map shared memory). Nothing else in a test process maps
 * that way as it runs, while libmalloc (and the sanitizers' allocators)
 * map and unmap regions of their own, so only these are counted. The
 * shared cache's submap is one entry and is not descended into. */
int tu__count_maps(void)
{
	struct vm_region_submap_info_64 info;
	mach_msg_type_number_t count;
	vm_address_t addr = 0;
	vm_size_t size = 0;
	natural_t depth;
	int n = 0;

	for (;;) {
		depth = 0;
		count = VM_REGION_SUBMAP_INFO_COUNT_64;
		if (vm_region_recurse_64(mach_task_self(), &addr, &size, &depth,
		                         (vm_region_recurse_info_t)&info,
		                         &count) != KERN_SUCCESS)
			break; /* KERN_INVALID_ADDRESS: past the last region */
		if (!info.is_submap && info.inheritance == VM_INHERIT_NONE)
			n++;
		addr += size;
	}
	return n;
}

/* What tu__count_maps counts already is only the objects' mappings. */
int tu__count_object_maps(void)
{
	return tu__count_maps();
}

int tu__count_ports(void)
{
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t n = 0, nt = 0;

	if (mach_port_names(mach_task_self(), &names, &n, &types, &nt) !=
	    KERN_SUCCESS)
		return -1;
	vm_deallocate(mach_task_self(), (vm_address_t)names, n * sizeof(*names));
	vm_deallocate(mach_task_self(), (vm_address_t)types, nt * sizeof(*types));
	return (int)n;
}

void tu__settle(void)
{
}

int tu_count_threads(void)
{
	thread_act_array_t list = NULL;
	mach_msg_type_number_t n = 0, i;

	assert_int_equal(task_threads(mach_task_self(), &list, &n), KERN_SUCCESS);
	for (i = 0; i < n; i++)
		mach_port_deallocate(mach_task_self(), list[i]);
	vm_deallocate(mach_task_self(), (vm_address_t)list,
	              n * sizeof(list[0]));
	return (int)n;
}

const char *tu__self_exe(void)
{
	static char path[4096];
	uint32_t len = sizeof(path);

	if (_NSGetExecutablePath(path, &len) != 0)
		return "";
	return path;
}

/* What a debugger does to another task, done to this one: the kernel
 * checks the region's current protection (a read-only mapping of a
 * read-only entry cannot be made writable: its maximum is read). */
mach_msg_return_t tu_send_empty(mach_port_t dest, mach_msg_type_name_t disp,
                                int timeout_ms)
{
	mach_msg_header_t m;
	mach_msg_return_t mr;

	memset(&m, 0, sizeof(m));
	m.msgh_bits = MACH_MSGH_BITS_SET(disp, 0, 0, 0);
	m.msgh_size = sizeof(m);
	m.msgh_remote_port = dest;
	m.msgh_id = 0x5a5a;
	mr = mach_msg(&m, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof(m), 0,
	              MACH_PORT_NULL, (mach_msg_timeout_t)timeout_ms,
	              MACH_PORT_NULL);
	if (mr != MACH_MSG_SUCCESS)
		mach_msg_destroy(&m);
	return mr;
}

bool tu_poke_mem(void *p, unsigned char byte)
{
	unsigned char b = byte;

	return vm_write(mach_task_self(), (vm_address_t)p, (vm_offset_t)&b, 1) ==
	       KERN_SUCCESS;
}

pid_t tu_fork_chan(struct mobj_chan **c)
{
	static unsigned seq;
	struct mobj_chan *l;
	char name[64];
	pid_t pid;

	snprintf(name, sizeof(name), "org.mobj.test.fork.%d.%u", (int)getpid(),
	         seq++);
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The listener's port and kqueue stayed in the parent: its
		 * handle means nothing here and is left alone. */
		if (mobj_chan_connect(name, 10000, c) != 0)
			_exit(120);
		return 0;
	}
	assert_int_equal(mobj_chan_accept(l, 10000, c), 0);
	mobj_chan_close(l);
	return pid;
}
