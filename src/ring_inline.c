/*
 * The exported copies of ring.h's inline calls (reserve, commit, peek,
 * consume), as liburing's ffi.c: the header's definitions compiled once as
 * external, visible functions, for bindings and for programs that call
 * them through a pointer. The header's prototypes come first, so these are
 * ordinary prototyped definitions.
 */
#include "mobj/object.h"
#define MOBJ_RING_INLINE MOBJ_EXPORT
#include "mobj/ring.h"
