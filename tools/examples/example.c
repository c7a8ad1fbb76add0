/* The README's example, built so that it keeps compiling. */
#include <mobj/mobj.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct mobj *o, *ro;
	char *w;
	char *r;
	int err;

	if ((err = mobj_create(1 << 20, 0, &o)) < 0)
		return fprintf(stderr, "create: %s\n", mobj_strerror(err)), 1;
	/* Map what you need writable first... */
	mobj_map(o, 0, mobj_size(o), MOBJ_PROT_READ | MOBJ_PROT_WRITE, (void **)&w);
	/* ...then derive the read-only handle: the object is frozen. */
	mobj_readonly(o, &ro);
	mobj_map(ro, 0, mobj_size(ro), MOBJ_PROT_READ, (void **)&r);
	strcpy(w, "hello");                       /* the old writable view still works */
	printf("%s\n", r);                        /* and the read-only view sees it */
	err = mobj_map(o, 0, mobj_size(o), MOBJ_PROT_READ | MOBJ_PROT_WRITE, (void **)&w);
	printf("%s\n", mobj_strerror(err));       /* -EPERM: frozen */
	mobj_close(ro);
	mobj_close(o);                            /* mappings stay valid */
	return 0;
}
