/*
 * libFuzzer target: arbitrary bytes, plus optionally descriptors of several
 * kinds, pushed through a real SOCK_SEQPACKET pair into mobj_recv(), the
 * whole receive path (recvmsg, control messages, decode, object checks).
 *
 * Input: byte 0 picks what rides along as SCM_RIGHTS (low 3 bits) and the
 * receiver (bit 3 clear: mobj_recv(); set: mobj_recvv() with room for
 * byte 0 >> 4 objects), byte 1 the receive buffer's capacity (x 17 bytes),
 * the rest is the datagram.
 * Checked: no crash or sanitizer report, the result is a length within cap
 * with at most as many objects as there is room for, each of a nonzero
 * size, or one of the documented errors with no object handed out; and no
 * descriptor is left behind (the lowest free descriptor number never
 * moves).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "rawmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* src/linux/dispose.c: starts the disposal thread (its socket pair is
 * then there before lowest_free is taken) and waits for its closes. */
int mobj__disposal_wait(int timeout_ms);

static struct mobj_chan *rx, *tx;
static int lowest_free;

static int free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		abort();
	close(fd);
	return fd;
}

static int memfd(size_t size, unsigned seals)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		abort();
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		abort();
	return fd;
}

#define FROZEN (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

/* Up to eight descriptors of the kind @kind names. */
static size_t make_fds(unsigned kind, int *fds)
{
	size_t page = mobj_page_size();
	int p[2];

	switch (kind) {
	case 1: fds[0] = memfd(page, F_SEAL_SHRINK | F_SEAL_GROW); return 1;
	case 2: fds[0] = memfd(page, F_SEAL_SHRINK | F_SEAL_GROW |
	                               F_SEAL_FUTURE_WRITE | F_SEAL_SEAL); return 1;
	case 3: fds[0] = memfd(page, 0); return 1;
	case 4:
		if (pipe2(p, O_CLOEXEC) < 0)
			abort();
		close(p[1]);
		fds[0] = p[0];
		return 1;
	case 5: fds[0] = memfd(2 * page, F_SEAL_SHRINK | F_SEAL_GROW); return 1;
	case 6:
		fds[0] = memfd(page, F_SEAL_SHRINK | F_SEAL_GROW);
		fds[1] = memfd(page, F_SEAL_SHRINK | F_SEAL_GROW);
		return 2;
	case 7: {
		size_t i;

		for (i = 0; i < 8; i++)
			fds[i] = memfd(page, FROZEN);
		return 8;
	}
	default: return 0;
	}
}

/* Whatever came back must be what the contract allows. */
static void check(int rc, size_t cap, struct mobj **objs, size_t room,
                  size_t n)
{
	size_t i;

	if (rc >= 0) {
		if ((size_t)rc > cap || rc > MOBJ_MSG_MAX || n > room)
			abort();
		for (i = 0; i < n; i++) {
			if (!objs[i] || mobj_size(objs[i]) == 0)
				abort();
			mobj_close(objs[i]);
		}
		return;
	}
	if (rc != -EPROTO && rc != -EMSGSIZE)
		abort();
	for (i = 0; i < MOBJ_MSG_OBJS_MAX; i++)
		if (objs[i])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[255 * 17];
	struct mobj *objs[MOBJ_MSG_OBJS_MAX] = { NULL };
	int fds[8], rc;
	size_t nfds, cap, room, n = 0, i;

	if (!rx) {
		if (mobj_chan_pair(&rx, &tx) != 0 || mobj__disposal_wait(5000) != 0)
			abort();
		lowest_free = free_fd();
	}
	if (size < 2 || size - 2 > 64 * 1024)
		return 0;
	nfds = make_fds(data[0] & 7, fds);
	cap = (size_t)data[1] * 17;
	if (raw_send(mobj_chan_fd(tx), data + 2, size - 2, fds, nfds) < 0)
		abort();
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (data[0] & 8) {
		room = (size_t)(data[0] >> 4);
		rc = mobj_recvv(rx, 0, objs, room, &n, buf, cap);
	} else {
		room = 1;
		rc = mobj_recv(rx, 0, &objs[0], buf, cap);
		n = rc >= 0 && objs[0];
	}
	check(rc, cap, objs, room, n);
	if (mobj__disposal_wait(5000) != 0 || free_fd() != lowest_free)
		abort();
	return 0;
}
