/*
 * A raw sender for SOCK_SEQPACKET: what a hostile or foreign peer does, used
 * by the channel tests and the receive fuzz target. No cmocka, so the fuzz
 * target can link it.
 */
#ifndef MOBJ_TEST_RAWMSG_H
#define MOBJ_TEST_RAWMSG_H

#include <stddef.h>

/* The most descriptors one message may carry (the kernel's SCM_MAX_FD). */
#define RAW_MAX_FDS 253

/* Send @len bytes at @p as one message on @fd with @nfds descriptors (at
 * most RAW_MAX_FDS) as SCM_RIGHTS. 0 when all of it went, else -1. */
int raw_send(int fd, const void *p, size_t len, const int *fds, size_t nfds);

#endif
