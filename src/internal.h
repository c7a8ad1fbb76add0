/*
 * Shared internals of the portable core. Internal names are mobj__*, and
 * none of them is exported from the shared library.
 */
#ifndef MOBJ_INTERNAL_H
#define MOBJ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mobj/object.h"
#include "os.h"

struct mobj {
	struct mobj__os_obj os;
	size_t size;     /* nonzero; a page multiple unless imported */
	unsigned access; /* MOBJ_READ or MOBJ_READ | MOBJ_WRITE */
};

/* Wrap a native handle the caller owns into a new struct mobj; on success
 * the handle belongs to the result, on failure it is still the caller's. */
int mobj__wrap(struct mobj__os_obj *os, size_t size, unsigned access,
               struct mobj **out);

/* Validate a foreign native handle as declared and wrap a duplicate of it:
 * the common path of mobj_from_fd, mobj_from_port and mobj_recv. */
int mobj__adopt(const struct mobj__os_obj *in, size_t size, unsigned access,
                struct mobj **out);

/* With MOBJ_DEBUG set (not "" or "0"), log "mobj: refused @what: @why" as
 * one line to stderr; otherwise nothing. Every refusal of a foreign object
 * or message calls it, so a person can learn why without a debugger. */
void mobj__refused(const char *what, const char *why);

/* What is left of a timeout of @timeout_ms started at @start
 * (mobj__os_clock_ms): -1 stays -1 (forever), never below 0. */
int mobj__time_left(int timeout_ms, uint64_t start);

/* Round @n up to the page size; 0 when that overflows. */
size_t mobj__page_round(size_t n);

/* The backend's end of a channel, for a backend that passes handles of its
 * own over it (Darwin: the ring's semaphores, mobj__os_waker_connect). */
struct mobj__os_chan *mobj__chan_os(struct mobj_chan *c);

#endif /* MOBJ_INTERNAL_H */
