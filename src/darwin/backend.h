/*
 * Internals shared by the files of the Darwin backend.
 */
#ifndef MOBJ_DARWIN_BACKEND_H
#define MOBJ_DARWIN_BACKEND_H

#include <stdbool.h>

#include <mach/mach.h>

/*
 * Translate a failed kern_return_t (or mach_msg_return_t, or bootstrap
 * error) into a negative errno: the one place where Mach errors become
 * errno values. The original is kept for the calling thread so that
 * mobj_strerror() can name it. @kr must not be KERN_SUCCESS.
 */
int mobj__kr(kern_return_t kr);

/* Whether @port is a read-write entry frozen in this process (object.c). */
bool mobj__darwin_frozen(mach_port_t port);

struct mobj__os_chan;

/* Pass one send right over a connected channel, outside the core's message
 * stream (the ring's semaphores). Send keeps the caller's reference
 * (COPY_SEND); receive hands over a new one. -EPROTO when the next message
 * is anything else (it is destroyed), -EPIPE, -ETIMEDOUT. */
int mobj__darwin_chan_send_port(struct mobj__os_chan *c, mach_port_t port,
                                int timeout_ms);
int mobj__darwin_chan_recv_port(struct mobj__os_chan *c, int timeout_ms,
                                mach_port_t *port);

#endif
