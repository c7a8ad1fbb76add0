/*
 * mobj: shared-memory objects. The umbrella header: objects and mappings,
 * channels, and the mirrored ring. The native-handle headers (mobj/linux.h,
 * mobj/darwin.h) and the heap (mobj/heap.h) are included on their own.
 */
#ifndef MOBJ_MOBJ_H
#define MOBJ_MOBJ_H

#include "object.h"
#include "chan.h"
#include "ring.h"

#endif /* MOBJ_MOBJ_H */
