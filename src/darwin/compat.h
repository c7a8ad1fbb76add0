/*
 * What an SDK may lack. Each block is used only when __has_include says the
 * SDK header is missing (Zig 0.11's bundled macOS headers have no
 * <servers/bootstrap.h>, though libSystem exports its functions), so a
 * build with Apple's SDK always uses Apple's own declarations. Only the
 * declarations this backend uses are here.
 */
#ifndef MOBJ_DARWIN_COMPAT_H
#define MOBJ_DARWIN_COMPAT_H

#include <mach/mach.h>

#if __has_include(<servers/bootstrap.h>)
#include <servers/bootstrap.h>
#else
/* launchd's bootstrap interface, as in <servers/bootstrap.h>. */
#define BOOTSTRAP_MAX_NAME_LEN    128
#define BOOTSTRAP_SUCCESS         0
#define BOOTSTRAP_NOT_PRIVILEGED  1100
#define BOOTSTRAP_NAME_IN_USE     1101
#define BOOTSTRAP_UNKNOWN_SERVICE 1102
#define BOOTSTRAP_SERVICE_ACTIVE  1103
#define BOOTSTRAP_BAD_COUNT       1104
#define BOOTSTRAP_NO_MEMORY       1105
#define BOOTSTRAP_NO_CHILDREN     1106
typedef char name_t[BOOTSTRAP_MAX_NAME_LEN];
kern_return_t bootstrap_check_in(mach_port_t bp, const name_t service_name,
                                 mach_port_t *sp);
kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name,
                                mach_port_t *sp);
#endif

#endif /* MOBJ_DARWIN_COMPAT_H */
