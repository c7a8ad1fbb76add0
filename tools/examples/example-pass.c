/* Pass a read-only view to another process (a child; any process of the
 * same uid can connect by name). Run as the example-pass test. */
#include <errno.h>
#include <mobj/mobj.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	struct mobj_chan *l, *c;
	struct mobj *o, *ro, *got;
	char *w, *r, msg[16];
	int n, status;

	/* Listen first, then fork: the child connects by name. */
	if (mobj_chan_listen("mobj-example", &l) < 0)
		return 1;
	if (fork() == 0) {
		mobj_chan_close(l);
		if (mobj_chan_connect("mobj-example", 5000, &c) < 0)
			_exit(1);
		n = mobj_recv(c, 5000, &got, msg, sizeof(msg));
		if (n < 0 || !got)
			_exit(1);
		mobj_map(got, 0, mobj_size(got), MOBJ_PROT_READ, (void **)&r);
		printf("child got \"%.*s\" and reads \"%s\"\n", n, msg, r);
		n = mobj_map(got, 0, mobj_size(got),
		             MOBJ_PROT_READ | MOBJ_PROT_WRITE, (void **)&w);
		printf("child maps it writable: %s\n", mobj_strerror(n));
		fflush(stdout);
		_exit(n == -EACCES ? 0 : 1);
	}
	mobj_chan_accept(l, 5000, &c);
	mobj_create(4096, 0, &o);
	mobj_map(o, 0, mobj_size(o), MOBJ_PROT_READ | MOBJ_PROT_WRITE, (void **)&w);
	strcpy(w, "shared pages");
	mobj_readonly(o, &ro);               /* freeze, then hand out read-only */
	mobj_send(c, ro, "view", 4);
	wait(&status);
	mobj_close(ro);
	mobj_close(o);
	mobj_chan_close(c);
	mobj_chan_close(l);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
