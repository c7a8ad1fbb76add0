/*
 * The Linux half of testutil: mappings from /proc/self/maps, writes through
 * /proc/self/mem, memfds, and a channel carried by fork().
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mobj/chan.h"
#include "mobj/linux.h"
#include "mobj/ring.h"
#include "testutil.h"

/* Valgrind maps and unmaps memory of its own while the test runs; under it
 * only the mappings of memory objects are counted. */
static bool under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return pre && strstr(pre, "vgpreload");
}

/* The sanitizers' allocators and shadow memory map memory of their own,
 * lazily, while a test runs: under them too only memory objects count. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZER true
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TU_SANITIZER true
#endif
#endif
#ifndef TU_SANITIZER
#define TU_SANITIZER false
#endif

/* /proc/self, opened before tu_hide_proc() took /proc away, or -1. */
static int proc_self = -1;

static int count_maps(bool only_memfd)
{
	FILE *f = NULL;
	char line[4096];
	int n = 0, fd;

	if (proc_self >= 0) {
		fd = openat(proc_self, "maps", O_RDONLY | O_CLOEXEC);
		f = fd >= 0 ? fdopen(fd, "re") : NULL;
	} else {
		f = fopen("/proc/self/maps", "re");
	}
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!only_memfd || strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

int tu__count_maps(void)
{
	return count_maps(under_valgrind() || TU_SANITIZER);
}

int tu__count_object_maps(void)
{
	return count_maps(true);
}

int tu__count_ports(void)
{
	return 0;
}

/* The library's (src/linux/dispose.c); absent from the shared library. */
int mobj__disposal_wait(int timeout_ms) __attribute__((weak));

void tu__settle(void)
{
	if (mobj__disposal_wait)
		assert_int_equal(mobj__disposal_wait(5000), 0);
}

const char *tu__self_exe(void)
{
	return "/proc/self/exe";
}

bool tu_poke_mem(void *p, unsigned char byte)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pwrite(fd, &byte, 1, (off_t)(uintptr_t)p);
	close(fd);
	return n == 1;
}

int tu_memfd(size_t size, unsigned seals)
{
	int fd = memfd_create("tu", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

pid_t tu_fork_chan(struct mobj_chan **c)
{
	struct mobj_chan *a, *b;
	pid_t pid;

	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mobj_chan_close(b);
		*c = a;
		return 0;
	}
	mobj_chan_close(a);
	*c = b;
	return pid;
}

int tu_hide_proc(void)
{
	int fd, i;

	fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		close(fd);
		return -errno;
	}
	/* /proc may be mounted more than once, one over the other. */
	for (i = 0; i < 8 && access("/proc/self", F_OK) == 0; i++) {
		if (umount2("/proc", MNT_DETACH) < 0) {
			close(fd);
			return -errno;
		}
	}
	if (access("/proc/self/fd", F_OK) == 0 || errno != ENOENT) {
		close(fd);
		return -EEXIST;
	}
	proc_self = fd;
	return 0;
}

struct noproc {
	int (*fn)(void *arg);
	void *arg;
};

static int noproc_child(void *arg)
{
	struct noproc *np = arg;
	struct tu_res r;
	int rc, err = tu_hide_proc();

	if (err < 0) {
		fprintf(stderr, "cannot hide /proc: %s\n", strerror(-err));
		return 99;
	}
	r = tu_res_now();
	rc = np->fn(np->arg);
	if (rc == 0 && !tu_res_same(r, tu_res_now()))
		rc = 98;
	return rc;
}

int tu_in_child_without_proc(int (*fn)(void *arg), void *arg)
{
	struct noproc np = { fn, arg };

	return tu_in_child(noproc_child, &np);
}

int tu_count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The wire of tu_xfer_send(): one message per mobj_ring_xfer. */
struct xwire {
	uint32_t nobjs;
	int32_t event;
	int32_t pidfd;
	int32_t zero;
	uint64_t sizes[2];
	uint64_t meta_len;
	unsigned char meta[MOBJ_RING_META_MAX];
};

/* Room for the descriptors of one xfer: 2 objects, event_fd, pidfd. */
union xcmsg {
	struct cmsghdr h;
	char b[CMSG_SPACE(4 * sizeof(int))];
};

int tu_xfer_send(int sock, const struct mobj_ring_xfer *x)
{
	union xcmsg cm;
	struct xwire w;
	struct iovec iov = { &w, sizeof(w) };
	struct msghdr mh;
	int fds[4];
	unsigned i, n = 0;

	memset(&w, 0, sizeof(w));
	memset(&cm, 0, sizeof(cm));
	w.nobjs = x->nobjs;
	w.event = x->event_fd >= 0;
	for (i = 0; i < x->nobjs; i++) {
		w.sizes[i] = x->sizes[i];
		fds[n++] = mobj_fd(x->objs[i]);
	}
	if (x->event_fd >= 0)
		fds[n++] = x->event_fd;
	w.pidfd = x->pidfd >= 0;
	if (x->pidfd >= 0)
		fds[n++] = x->pidfd;
	w.meta_len = x->meta_len;
	memcpy(w.meta, x->meta, x->meta_len);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(&cm.h), fds, n * sizeof(int));
	return sendmsg(sock, &mh, 0) == (ssize_t)sizeof(w) ? 0 : -1;
}

int tu_xfer_recv(int sock, struct mobj_ring_xfer *x)
{
	union xcmsg cm;
	struct xwire w;
	struct iovec iov = { &w, sizeof(w) };
	struct msghdr mh;
	int fds[4] = { -1, -1, -1, -1 };
	unsigned i, n;

	memset(&mh, 0, sizeof(mh));
	(void)mobj_ring_xfer_init(x);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(w) ||
	    w.nobjs > 2 || w.meta_len > MOBJ_RING_META_MAX)
		return -1;
	n = w.nobjs + (w.event ? 1 : 0) + (w.pidfd ? 1 : 0);
	if (n == 0 || cm.h.cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(&cm.h), n * sizeof(int));
	x->nobjs = w.nobjs;
	for (i = 0; i < w.nobjs; i++) {
		x->sizes[i] = (size_t)w.sizes[i];
		if (mobj_from_fd(fds[i], x->sizes[i], MOBJ_READ, &x->objs[i]) < 0)
			return -1;
		close(fds[i]);
	}
	x->event_fd = w.event ? fds[w.nobjs] : -1;
	x->pidfd = w.pidfd ? fds[n - 1] : -1;
	x->meta_len = (size_t)w.meta_len;
	memcpy(x->meta, w.meta, x->meta_len);
	return 0;
}

void tu_xfer_release(struct mobj_ring_xfer *x)
{
	unsigned i;

	for (i = 0; i < x->nobjs; i++)
		mobj_close(x->objs[i]);
	if (x->event_fd >= 0)
		close(x->event_fd);
	if (x->pidfd >= 0)
		close(x->pidfd);
	x->nobjs = 0;
	x->event_fd = x->pidfd = -1;
}
