/*
 * Shared internals of the portable core. Internal names are mobj__*, and
 * none of them is exported from the shared library.
 */
#ifndef MOBJ_INTERNAL_H
#define MOBJ_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mobj/object.h"
#include "os.h"

struct mobj {
	struct mobj__os_obj os;
	size_t size;     /* nonzero; a page multiple unless imported */
	unsigned access; /* MOBJ_READ or MOBJ_READ | MOBJ_WRITE */
};

/* A new struct mobj that takes over @os, a native handle the caller owns:
 * on success the handle belongs to the result, on failure it is still the
 * caller's. */
int mobj__obj_new(struct mobj__os_obj *os, size_t size, unsigned access,
                  struct mobj **out);

/* Validate a foreign native handle as declared and return a new struct
 * mobj holding a duplicate of it (@in stays the caller's): the common path
 * of mobj_from_fd, mobj_from_port and mobj_recv. */
int mobj__import_dup(const struct mobj__os_obj *in, size_t size,
                     unsigned access, struct mobj **out);

/* With MOBJ_DEBUG set (not "" or "0"), log "mobj: refused @what: @why" as
 * one line to stderr; otherwise nothing. Every refusal of a foreign object
 * or message calls it, so a person can learn why without a debugger. */
void mobj__refused(const char *what, const char *why);

/* A failed system call's errno, negated; -EIO should it be 0 (both
 * backends' one copy). */
static inline int mobj__neg_errno(void)
{
	int e = errno, r = e > 0 ? -e : -EIO;

	/* Callers rely on a negative result; the static analyzer
	 * (tools/analyze.sh) cannot derive -e < 0 from e > 0, so the result
	 * says so in a form it can follow. */
	return r < 0 ? r : -EIO;
}

/* -1 is forever; anything below is a caller's bug (a deadline computed
 * into the past, say), not a request to wait forever: -EINVAL. */
static inline bool mobj__bad_timeout(int timeout_ms)
{
	return timeout_ms < -1;
}

/* Milliseconds left of a timeout of @timeout_ms started at @start
 * (mobj__os_clock_ns), rounded up so that a wait never ends before the
 * timeout: -1 stays -1 (forever), never below 0. */
static inline int mobj__time_left(int timeout_ms, uint64_t start)
{
	uint64_t spent, limit;

	if (timeout_ms < 0)
		return -1;
	spent = mobj__os_clock_ns() - start;
	limit = (uint64_t)timeout_ms * 1000000u;
	return spent >= limit ? 0 : (int)((limit - spent + 999999u) / 1000000u);
}

/* Round @n up to the page size; 0 when that overflows. */
size_t mobj__page_round(size_t n);

struct mobj_chan;

/* The backend's end of a channel: the ring hands it to
 * mobj__os_waker_connect, whose messages bypass the core's format. */
struct mobj__os_chan *mobj__chan_os(struct mobj_chan *c);

#endif /* MOBJ_INTERNAL_H */
