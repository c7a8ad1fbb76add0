/*
 * Internals shared by the files of the Darwin backend.
 */
#ifndef MOBJ_DARWIN_BACKEND_H
#define MOBJ_DARWIN_BACKEND_H

#include <mach/mach.h>

/*
 * Translate a failed kern_return_t (or mach_msg_return_t, or bootstrap
 * error) into a negative errno: the one place where Mach errors become
 * errno values. The original is kept for the calling thread so that
 * mobj_strerror() can name it. @kr must not be KERN_SUCCESS.
 */
int mobj__kr(kern_return_t kr);

#endif
