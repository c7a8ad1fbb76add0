/*
 * Demand launch on Linux: systemd socket activation. The service manager
 * (systemd with a .socket unit, or systemd-socket-activate) creates and
 * binds the listening socket, starts the service on the first connection,
 * and passes the socket as descriptor 3 + i, described by the environment
 * (sd_listen_fds(3), whose protocol is read here directly rather than by
 * linking libsystemd):
 *
 *   LISTEN_PID      the pid the sockets are meant for: ours, or they are
 *                   not ours (a parent's, inherited by mistake);
 *   LISTEN_FDS      how many descriptors, from 3 on;
 *   LISTEN_FDNAMES  their names, colon-separated (FileDescriptorName= in a
 *                   .socket unit, --fdname= for systemd-socket-activate).
 *
 * mobj_chan_listen(name) takes the descriptor whose name is exactly @name,
 * after checking that it is what mobj would have made: an AF_UNIX
 * SOCK_SEQPACKET socket, listening, bound to @name's address (the abstract
 * "\0name", or the path). Anything else passed under that name is
 * refused (-EPROTO) rather than bound around: the manager holds the name,
 * so binding our own could only fail, later and less clearly. Each passed
 * descriptor is taken at most once per process: once closed, its number
 * may belong to anything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

#define LISTEN_FDS_START 3
#define MAX_PASSED 64 /* one bit each in taken */

static _Atomic unsigned long long taken;

/* A decimal number in @s that is all digits and fits: -1 otherwise. */
static long env_number(const char *var)
{
	const char *s = getenv(var);
	char *end;
	long v;

	if (!s || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end ? -1 : v;
}

/* The index of @name in the colon-separated LISTEN_FDNAMES, or -1. */
static long name_index(const char *name, long nfds)
{
	const char *names = getenv("LISTEN_FDNAMES"), *p;
	size_t n = strlen(name);
	long i = 0;

	if (!names)
		return -1;
	for (p = names; i < nfds; i++) {
		size_t len = strcspn(p, ":");

		if (len == n && memcmp(p, name, n) == 0)
			return i;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return -1;
}

static bool bound_to(int fd, const char *name)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	size_t n = strlen(name), off = offsetof(struct sockaddr_un, sun_path);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    sa.sun_family != AF_UNIX || len <= off)
		return false;
	if (name[0] == '/')
		return strnlen(sa.sun_path, sizeof(sa.sun_path)) == n &&
		       memcmp(sa.sun_path, name, n) == 0;
	return sa.sun_path[0] == '\0' && len - off == n + 1 &&
	       memcmp(sa.sun_path + 1, name, n) == 0;
}

static bool is_listener(int fd, const char *name)
{
	int domain = 0, type = 0, acc = 0;
	socklen_t l1 = sizeof(domain), l2 = sizeof(type), l3 = sizeof(acc);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) == 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) == 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l3) == 0 &&
	       domain == AF_UNIX && type == SOCK_SEQPACKET && acc == 1 &&
	       bound_to(fd, name);
}

int mobj__linux_activated(const char *name, struct mobj__os_chan *out)
{
	long nfds = env_number("LISTEN_FDS"), i;
	unsigned long long bit;
	int fd, fl;

	if (env_number("LISTEN_PID") != (long)getpid() || nfds < 1)
		return -ENOENT;
	i = name_index(name, nfds < MAX_PASSED ? nfds : MAX_PASSED);
	if (i < 0)
		return -ENOENT;
	bit = 1ull << i;
	if (atomic_load(&taken) & bit)
		return -ENOENT;
	fd = LISTEN_FDS_START + (int)i;
	if (!is_listener(fd, name)) {
		mobj__refused("a socket passed by the service manager",
		              "not a listening AF_UNIX SOCK_SEQPACKET socket "
		              "bound to the name it was passed under");
		return -EPROTO;
	}
	if (atomic_fetch_or(&taken, bit) & bit)
		return -ENOENT; /* another thread took it meanwhile */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return mobj__neg_errno();
	/* No path: the socket file is the manager's, never unlinked by us. */
	memset(out, 0, sizeof(*out));
	out->fd = fd;
	out->pid = getpid();
	out->uid = geteuid();
	out->shared = true; /* the manager keeps it: never shut it down */
	return 0;
}
