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
 * The import policy: what mobj_from_fd() and mobj_recv() accept, by the
 * memfd's seals (F_SEAL_SHRINK is in every accepted row; FW is
 * F_SEAL_FUTURE_WRITE):
 *
 * | seals besides SHRINK      | declared read-write        | declared read-only |
 * |---------------------------|----------------------------|--------------------|
 * | GROW, or none             | read-write, freezable      | refused: not frozen|
 * | SEAL (+GROW), no FW/WRITE | read-write, never freezable| refused: not frozen|
 * | FW (+GROW, +SEAL)         | read-write handle of a frozen object (no new writable map) | read-only |
 * | WRITE                     | refused: write-sealed      | read-only          |
 *
 * "Never freezable": mobj_readonly() on it returns -EPERM (the producer
 * sealed the seals; PipeWire's PW_MEMBLOCK_FLAG_SEAL blocks and every
 * Wayland client pool made by libwayland's os_create_anonymous_file are
 * such objects). Refused whatever the seals: no F_SEAL_SHRINK (it could
 * shrink under a mapping: SIGBUS), a file smaller than the declared size,
 * or larger when sealed F_SEAL_GROW (a file that can grow may have grown
 * since it was sent: the object is its first declared bytes), a hugetlb
 * memfd, anything that is not a memfd; declared read-write, a
 * descriptor opened O_RDONLY; declared read-only, a memfd that cannot be
 * reopened O_RDONLY (chmod'ed by its creator).
 *
 * Sizes need not be page multiples: mobj_size() is the declared size, and a
 * mapping covers whole pages, the last one partly past the end of the file,
 * which is safe (only whole pages past the end fault). A mirror (so a
 * ring) needs a page multiple: mobj_map_mirror() of such an object is
 * -EINVAL.
 *
 * Why an object was refused: mobj_fd_check() answers with one of these
 * reasons, and with the environment variable MOBJ_DEBUG set (to anything
 * but "" or "0") every refusal, of mobj_from_fd() or of a message on a
 * channel, also logs one line to stderr: "mobj: refused <what>: <why>".
 */
enum mobj_refusal {
	MOBJ_REFUSAL_NOT_MEMFD = 1,  /**< F_GET_SEALS fails: pipe, file, O_PATH */
	MOBJ_REFUSAL_HUGETLB,        /**< a hugetlb memfd */
	MOBJ_REFUSAL_NO_SHRINK_SEAL, /**< no F_SEAL_SHRINK */
	MOBJ_REFUSAL_SIZE,           /**< smaller than declared (or larger, sealed
	                                  GROW), 0, or too large */
	MOBJ_REFUSAL_FD_READONLY,    /**< declared read-write, fd is O_RDONLY */
	MOBJ_REFUSAL_WRITE_SEALED,   /**< declared read-write, F_SEAL_WRITE */
	MOBJ_REFUSAL_NOT_FROZEN,     /**< declared read-only, still writable */
	MOBJ_REFUSAL_NOT_REOPENABLE, /**< declared read-only, cannot reopen O_RDONLY */
};

/**
 * Wrap a memfd received from elsewhere, after exactly the checks mobj_recv()
 * applies (the import policy above): @p fd must be a memfd sealed
 * F_SEAL_SHRINK, of @p size bytes (or more, if not sealed F_SEAL_GROW); declared MOBJ_READ it must also
 * be frozen (F_SEAL_FUTURE_WRITE, or F_SEAL_WRITE); declared
 * MOBJ_READ | MOBJ_WRITE it must be open O_RDWR and not F_SEAL_WRITE.
 * The fd is duplicated (close-on-exec): the caller keeps and closes its own.
 *
 * @param size    the object's size in bytes (any size, not only page
 *                multiples; at most PTRDIFF_MAX / 2).
 * @param access  MOBJ_READ or MOBJ_READ | MOBJ_WRITE.
 * @return 0, or
 *  -EINVAL  out is NULL, size is 0, or (fd >= 0) access is not one of the
 *           two values;
 *  -EBADF   fd is negative or not an open descriptor;
 *  -EPROTO  fd is open but not an acceptable object as declared (why:
 *           mobj_fd_check(), or MOBJ_DEBUG);
 *  -EMFILE, -ENFILE, -ENOMEM  no descriptor or memory for the duplicate.
 * A read-only object handed over read-write is reopened O_RDONLY through
 * /proc; without /proc it is held as a duplicate (its seals are checked).
 */
MOBJ_EXPORT int mobj_from_fd(int fd, size_t size, unsigned access,
                             struct mobj **out);

/**
 * Check @p fd against the import policy without importing it: why
 * mobj_from_fd() with the same arguments refuses it (seals only grow, so the
 * answer after a refusal is the reason of that refusal). Logs nothing.
 *
 * @return 0 when it is acceptable, a positive enum mobj_refusal when it is
 *         not, or -EINVAL (access not one of the two values), -EBADF (fd
 *         not an open descriptor), -EMFILE/-ENFILE (the read-only
 *         reopen could not be tried).
 */
MOBJ_EXPORT int mobj_fd_check(int fd, size_t size, unsigned access);

/**
 * A static English description of an enum mobj_refusal value (0:
 * "acceptable"). Never returns NULL; thread-safe.
 */
MOBJ_EXPORT const char *mobj_refusal_str(int reason);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_LINUX_H */
