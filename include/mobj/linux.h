/*
 * mobj on Linux: the native handle is a sealed memfd, so an object can also
 * travel over IPC that mobj does not own (Wayland, D-Bus, a socket of your
 * own).
 */
#ifndef MOBJ_LINUX_H
#define MOBJ_LINUX_H

#include "object.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The object's memfd. Owned by the handle: valid until mobj_close(); dup it
 * to keep it longer. A read-only handle's fd is opened O_RDONLY on a frozen
 * object where /proc is mounted; without /proc it is open O_RDWR, and the
 * object's seals (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) alone refuse every
 * write through it (see mobj_readonly()).
 * @return the descriptor, or -EINVAL for NULL.
 */
MOBJ_EXPORT int mobj_fd(const struct mobj *o);

/**
 * Wrap a memfd received from elsewhere, after exactly the checks mobj_recv()
 * applies: @p fd must be a memfd (F_GET_SEALS works) sealed F_SEAL_SHRINK |
 * F_SEAL_GROW, of exactly @p size bytes (a multiple of mobj_page_size());
 * declared MOBJ_READ it must also be frozen (F_SEAL_FUTURE_WRITE, or
 * F_SEAL_WRITE); declared MOBJ_READ | MOBJ_WRITE it must be open O_RDWR,
 * not F_SEAL_WRITE, and freezable (not F_SEAL_SEAL unless frozen already).
 * A hugetlb memfd is refused (it maps only in huge pages).
 * An O_PATH descriptor is not an acceptable object (-EPROTO).
 * The fd is duplicated (close-on-exec): the caller keeps and closes its own.
 *
 * @param access  MOBJ_READ or MOBJ_READ | MOBJ_WRITE.
 * @return 0, or
 *  -EINVAL  out is NULL, size is 0, or (fd >= 0) access is not one of the
 *           two values;
 *  -EBADF   fd is negative or not an open descriptor;
 *  -EPROTO  fd is open but not an acceptable object as declared, or size
 *           is not a multiple of mobj_page_size();
 *  -EMFILE, -ENFILE, -ENOMEM  no descriptor or memory for the duplicate.
 * A read-only object handed over read-write is reopened O_RDONLY through
 * /proc; without /proc it is held as a duplicate (its seals are checked).
 */
MOBJ_EXPORT int mobj_from_fd(int fd, size_t size, unsigned access,
                             struct mobj **out);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_LINUX_H */
