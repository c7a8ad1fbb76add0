/*
 * mobj and Wayland's shared-memory pools (wl_shm), against real code.
 *
 *   wayland-pool give   a client of the compositor at $WAYLAND_DISPLAY
 *                       (weston in the wayland-give test): hands a mobj
 *                       object to it as a wl_shm pool, shows a window
 *                       whose buffer lives in it, and waits until the
 *                       compositor has repainted with it (a frame
 *                       callback). Then offers the read-only view on a
 *                       second connection: a compositor maps every pool
 *                       read-write, so it refuses it (invalid_fd).
 *   wayland-pool take   a compositor's side, in-process: a wl_shm of our
 *                       own takes the pools that libwayland-cursor (a real
 *                       client library) makes and grows, each imported
 *                       with mobj_from_fd(), and reads the cursor images
 *                       through them; a pool that could shrink under the
 *                       compositor (no F_SEAL_SHRINK) is refused with a
 *                       protocol error that says so.
 *
 * Exits 0 when every step held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mobj/linux.h>
#include <mobj/mobj.h>
#include <wayland-client.h>
#include <wayland-cursor.h>
#include <wayland-server.h>

#include "xdg-shell-client-protocol.h"

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)

static int fail(const char *what)
{
	fprintf(stderr, "wayland-pool: %s\n", what);
	return 1;
}

/* ---- give: a client of a real compositor --------------------------------- */

struct app {
	struct wl_registry *reg;
	struct wl_compositor *comp;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	bool configured, frame_done;
};

static void ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	(void)data;
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = { .ping = ping };

static void global(void *data, struct wl_registry *reg, uint32_t name,
                   const char *iface, uint32_t version)
{
	struct app *a = data;

	(void)version;
	if (strcmp(iface, wl_compositor_interface.name) == 0)
		a->comp = wl_registry_bind(reg, name, &wl_compositor_interface, 4);
	else if (strcmp(iface, wl_shm_interface.name) == 0)
		a->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	else if (strcmp(iface, xdg_wm_base_interface.name) == 0) {
		a->wm = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(a->wm, &wm_listener, a);
	}
}

static void global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	(void)data;
	(void)reg;
	(void)name;
}

static const struct wl_registry_listener reg_listener = { global, global_remove };

static void xs_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct app *a = data;

	xdg_surface_ack_configure(xs, serial);
	a->configured = true;
}

static const struct xdg_surface_listener xs_listener = { xs_configure };

static void tl_configure(void *data, struct xdg_toplevel *t, int32_t w,
                         int32_t h, struct wl_array *states)
{
	(void)data;
	(void)t;
	(void)w;
	(void)h;
	(void)states;
}

static void tl_close(void *data, struct xdg_toplevel *t)
{
	(void)data;
	(void)t;
}

static const struct xdg_toplevel_listener tl_listener = {
	.configure = tl_configure, .close = tl_close,
};

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct app *a = data;

	(void)time;
	a->frame_done = true;
	wl_callback_destroy(cb);
}

static const struct wl_callback_listener frame_listener = { frame_done };

/* Every proxy is destroyed before the display: libwayland-client frees
 * none of them for us. */
static void disconnect_app(struct wl_display *d, struct app *a)
{
	if (a->wm)
		xdg_wm_base_destroy(a->wm);
	if (a->shm)
		wl_shm_destroy(a->shm);
	if (a->comp)
		wl_compositor_destroy(a->comp);
	if (a->reg)
		wl_registry_destroy(a->reg);
	wl_display_disconnect(d);
}

static struct wl_display *connect_app(struct app *a)
{
	struct wl_display *d = wl_display_connect(NULL);

	memset(a, 0, sizeof(*a));
	if (!d)
		return NULL;
	a->reg = wl_display_get_registry(d);
	wl_registry_add_listener(a->reg, &reg_listener, a);
	if (wl_display_roundtrip(d) < 0 || !a->comp || !a->shm || !a->wm) {
		disconnect_app(d, a);
		return NULL;
	}
	return d;
}

#define W 64
#define H 64

/* A window whose one buffer is in @o, until the compositor drew it. */
static int show(struct wl_display *d, struct app *a, struct mobj *o)
{
	struct wl_shm_pool *pool;
	struct wl_buffer *buf;
	struct wl_surface *s;
	struct xdg_surface *xs;
	struct xdg_toplevel *tl;

	pool = wl_shm_create_pool(a->shm, mobj_fd(o), (int32_t)mobj_size(o));
	buf = wl_shm_pool_create_buffer(pool, 0, W, H, W * 4,
	                                WL_SHM_FORMAT_XRGB8888);
	s = wl_compositor_create_surface(a->comp);
	xs = xdg_wm_base_get_xdg_surface(a->wm, s);
	xdg_surface_add_listener(xs, &xs_listener, a);
	tl = xdg_surface_get_toplevel(xs);
	xdg_toplevel_add_listener(tl, &tl_listener, a);
	xdg_toplevel_set_title(tl, "mobj");
	wl_surface_commit(s);
	while (!a->configured)
		if (wl_display_dispatch(d) < 0)
			return fail("compositor error before configure");
	wl_surface_attach(s, buf, 0, 0);
	wl_surface_damage(s, 0, 0, W, H);
	wl_callback_add_listener(wl_surface_frame(s), &frame_listener, a);
	wl_surface_commit(s);
	while (!a->frame_done)
		if (wl_display_dispatch(d) < 0)
			return fail("compositor error before the frame");
	printf("compositor took a mobj object (%zu bytes) as a wl_shm pool and "
	       "repainted with its pixels\n", mobj_size(o));
	xdg_toplevel_destroy(tl);
	xdg_surface_destroy(xs);
	wl_surface_destroy(s);
	wl_buffer_destroy(buf);
	wl_shm_pool_destroy(pool);
	return wl_display_roundtrip(d) < 0 ? fail("compositor error") : 0;
}

/* The read-only view, refused: the compositor maps pools writable. */
static int offer_readonly(struct mobj *ro)
{
	const struct wl_interface *iface = NULL;
	struct wl_display *d;
	struct app a;
	struct wl_shm_pool *pool;
	uint32_t id, code;
	int rc = 1;

	d = connect_app(&a);
	if (!d)
		return fail("second connection");
	pool = wl_shm_create_pool(a.shm, mobj_fd(ro), (int32_t)mobj_size(ro));
	if (wl_display_roundtrip(d) >= 0) {
		fail("the compositor took a read-only view as a pool");
	} else {
		code = wl_display_get_protocol_error(d, &iface, &id);
		if (wl_display_get_error(d) == EPROTO && iface == &wl_shm_interface &&
		    code == WL_SHM_ERROR_INVALID_FD) {
			printf("the read-only view is refused (wl_shm.invalid_fd): "
			       "a compositor maps pools read-write\n");
			rc = 0;
		} else {
			fail("unexpected error for the read-only view");
		}
	}
	wl_shm_pool_destroy(pool);
	disconnect_app(d, &a);
	return rc;
}

static int give(void)
{
	struct wl_display *d;
	struct mobj *o, *ro;
	uint32_t *px;
	struct app a;
	size_t i;
	int rc;

	d = connect_app(&a);
	if (!d)
		return fail("no compositor with wl_compositor, wl_shm, xdg_wm_base "
		            "at $WAYLAND_DISPLAY");
	if (mobj_create_labeled(W * H * 4, MOBJ_CREATE_POPULATE, "wl-pool", &o) ||
	    mobj_map(o, 0, mobj_size(o), RW, (void **)&px)) {
		disconnect_app(d, &a);
		return fail("mobj_create/mobj_map");
	}
	for (i = 0; i < W * H; i++)
		px[i] = 0xff336699u;
	rc = show(d, &a, o);
	disconnect_app(d, &a);
	if (rc == 0 && mobj_readonly(o, &ro) == 0) {
		rc = offer_readonly(ro);
		mobj_close(ro);
	}
	mobj_unmap(px, mobj_size(o));
	mobj_close(o);
	return rc;
}

/* ---- take: a compositor's wl_shm that imports with mobj ------------------- */

struct taken {
	pthread_mutex_t lock;
	int pools, resizes, refused;
	size_t size;     /* the latest pool's */
	int seals;       /* ...and its seals */
	struct mobj *o;  /* ...and the object, while the pool lives */
};

static struct taken tk = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void pool_destroy(struct wl_client *c, struct wl_resource *r)
{
	(void)c;
	wl_resource_destroy(r);
}

static void buffer_destroy(struct wl_client *c, struct wl_resource *r)
{
	(void)c;
	wl_resource_destroy(r);
}

static const struct wl_buffer_interface buffer_impl = { buffer_destroy };

static void pool_create_buffer(struct wl_client *c, struct wl_resource *r,
                               uint32_t id, int32_t off, int32_t w, int32_t h,
                               int32_t stride, uint32_t format)
{
	struct wl_resource *b = wl_resource_create(c, &wl_buffer_interface, 1, id);

	(void)r;
	(void)off;
	(void)w;
	(void)h;
	(void)stride;
	(void)format;
	if (b)
		wl_resource_set_implementation(b, &buffer_impl, NULL, NULL);
}

/* Import @fd as a pool of @size; on success it replaces the current one. */
static bool import(struct wl_resource *r, int fd, int32_t size)
{
	struct mobj *o = NULL;
	int err;

	err = mobj_from_fd(fd, (size_t)size, MOBJ_READ | MOBJ_WRITE, &o);
	if (err < 0) {
		tk.refused++;
		wl_resource_post_error(r, WL_SHM_ERROR_INVALID_FD, "mobj: %s",
		                       mobj_refusal_str(mobj_fd_check(fd, (size_t)size,
		                       MOBJ_READ | MOBJ_WRITE)));
		return false;
	}
	mobj_close(tk.o);
	tk.o = o;
	tk.size = (size_t)size;
	tk.seals = fcntl(mobj_fd(o), F_GET_SEALS);
	return true;
}

static void pool_resize(struct wl_client *c, struct wl_resource *r,
                        int32_t size)
{
	(void)c;
	pthread_mutex_lock(&tk.lock);
	/* The client grew its file first; the same file, a new size. */
	if (tk.o && import(r, mobj_fd(tk.o), size))
		tk.resizes++;
	pthread_mutex_unlock(&tk.lock);
}

static const struct wl_shm_pool_interface pool_impl = {
	.create_buffer = pool_create_buffer,
	.destroy = pool_destroy,
	.resize = pool_resize,
};

static void shm_create_pool(struct wl_client *c, struct wl_resource *r,
                            uint32_t id, int32_t fd, int32_t size)
{
	struct wl_resource *p;

	pthread_mutex_lock(&tk.lock);
	if (import(r, fd, size)) {
		tk.pools++;
		p = wl_resource_create(c, &wl_shm_pool_interface, 1, id);
		if (p)
			wl_resource_set_implementation(p, &pool_impl, NULL, NULL);
	}
	pthread_mutex_unlock(&tk.lock);
	close(fd);
}

static const struct wl_shm_interface shm_impl = { shm_create_pool };

static void bind_shm(struct wl_client *c, void *data, uint32_t version,
                     uint32_t id)
{
	struct wl_resource *r = wl_resource_create(c, &wl_shm_interface, 1, id);

	(void)data;
	(void)version;
	if (!r)
		return;
	wl_resource_set_implementation(r, &shm_impl, NULL, NULL);
	wl_shm_send_format(r, WL_SHM_FORMAT_ARGB8888);
	wl_shm_send_format(r, WL_SHM_FORMAT_XRGB8888);
}

static atomic_bool stop;

static void *serve(void *arg)
{
	struct wl_display *d = arg;
	struct wl_event_loop *loop = wl_display_get_event_loop(d);

	while (!atomic_load(&stop)) {
		wl_event_loop_dispatch(loop, 50);
		wl_display_flush_clients(d);
	}
	return NULL;
}

struct shm_client {
	struct wl_registry *reg;
	struct wl_shm *shm;
};

static void client_global(void *data, struct wl_registry *reg, uint32_t name,
                          const char *iface, uint32_t version)
{
	struct shm_client *sc = data;

	(void)version;
	if (strcmp(iface, wl_shm_interface.name) == 0)
		sc->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
}

static const struct wl_registry_listener client_reg = { client_global,
                                                        global_remove };

/* What the compositor's side sees through the latest import. */
static int check_taken(void)
{
	const unsigned char *p;
	size_t i, nonzero = 0;
	int rc = 1;

	pthread_mutex_lock(&tk.lock);
	if (tk.pools < 1 || tk.refused || !tk.o) {
		fail("libwayland-cursor's pool was not imported");
	} else if (mobj_map(tk.o, 0, tk.size, MOBJ_PROT_READ, (void **)&p) == 0) {
		for (i = 0; i < tk.size; i++)
			nonzero += p[i] != 0;
		mobj_unmap((void *)p, tk.size);
		printf("took in libwayland-cursor's pool: %d pool(s), %d resize(s), "
		       "%zu bytes (%s page multiple), seals %#x; %zu nonzero "
		       "cursor bytes read through mobj\n", tk.pools, tk.resizes,
		       tk.size, tk.size % mobj_page_size() ? "not a" : "a",
		       tk.seals, nonzero);
		rc = nonzero ? 0 : fail("no cursor pixels in the pool");
	}
	pthread_mutex_unlock(&tk.lock);
	return rc;
}

/* A client that offers a memfd anyone may shrink: the compositor's side
 * refuses it (wl_shm.invalid_fd) and the error text says why. */
static int offer_shrinkable(struct wl_display *cli, struct wl_shm *shm)
{
	const struct wl_interface *iface = NULL;
	int fd = memfd_create("shrinkable", MFD_CLOEXEC);
	uint32_t id, code;

	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return fail("memfd_create");
	wl_shm_pool_destroy(wl_shm_create_pool(shm, fd, 4096));
	close(fd);
	if (wl_display_roundtrip(cli) >= 0)
		return fail("a shrinkable pool was taken");
	code = wl_display_get_protocol_error(cli, &iface, &id);
	if (iface != &wl_shm_interface || code != WL_SHM_ERROR_INVALID_FD ||
	    tk.refused != 1)
		return fail("a shrinkable pool: unexpected error");
	printf("refused a pool without F_SEAL_SHRINK (wl_shm.invalid_fd)\n");
	return 0;
}

static int take(void)
{
	struct shm_client sc = { NULL, NULL };
	struct wl_cursor_theme *theme;
	struct wl_display *srv, *cli;
	pthread_t t;
	int sv[2], rc = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("socketpair");
	srv = wl_display_create();
	if (!srv || !wl_global_create(srv, &wl_shm_interface, 1, NULL, bind_shm) ||
	    !wl_client_create(srv, sv[0]))
		return fail("wl_display_create");
	cli = wl_display_connect_to_fd(sv[1]);
	if (!cli || pthread_create(&t, NULL, serve, srv) != 0)
		return fail("wl_display_connect_to_fd");
	sc.reg = wl_display_get_registry(cli);
	wl_registry_add_listener(sc.reg, &client_reg, &sc);
	if (wl_display_roundtrip(cli) < 0 || !sc.shm) {
		fail("no wl_shm");
	} else {
		theme = wl_cursor_theme_load(NULL, 24, sc.shm);
		if (!theme || !wl_cursor_theme_get_cursor(theme, "left_ptr") ||
		    wl_display_roundtrip(cli) < 0)
			fail("wl_cursor_theme_load");
		else
			rc = check_taken();
		if (theme)
			wl_cursor_theme_destroy(theme);
		/* Last: a protocol error ends the connection. */
		if (rc == 0 && wl_display_roundtrip(cli) >= 0)
			rc = offer_shrinkable(cli, sc.shm);
	}
	if (sc.shm)
		wl_shm_destroy(sc.shm);
	wl_registry_destroy(sc.reg);
	wl_display_disconnect(cli);
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	wl_display_destroy(srv);
	mobj_close(tk.o);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc != 2 || (strcmp(argv[1], "give") && strcmp(argv[1], "take"))) {
		fprintf(stderr, "usage: wayland-pool give|take\n");
		return 2;
	}
	rc = strcmp(argv[1], "give") == 0 ? give() : take();
	if (rc == 0)
		printf("ok\n");
	return rc;
}
