/*
 * `mobj info PID` on Linux: the memory objects a process holds, found from
 * the outside through /proc.
 *
 * - Handles: /proc/PID/fd/N whose link reads "/memfd:mobj (deleted)" (mobj
 *   names every memfd "mobj"), or "/memfd:mobj:LABEL (deleted)" for an
 *   object made by mobj_create_labeled(). Access mode from /proc/PID/fdinfo/N "flags:"
 *   (octal open flags).
 * - Size and seals: F_GET_SEALS needs a descriptor of our own, and
 *   /proc/PID/fdinfo does not show seals, so the file is reopened read-only
 *   through /proc/PID/fd/N (allowed to whoever may ptrace-read the process:
 *   the same user, or root). Seals belong to the file, not the descriptor,
 *   so the reopened descriptor reports them exactly. Reopening has no effect
 *   on the target. When it is refused, size and seals are shown as unknown.
 * - Mappings: /proc/PID/maps lines naming /memfd:mobj, matched to handles by
 *   inode. Objects can stay mapped after every handle is closed; those are
 *   listed too, with size and seals read through /proc/PID/map_files when
 *   we may open it (CAP_SYS_ADMIN). Two adjacent mappings of the same object, each from offset
 *   0, are a mirror.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "info.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define LABEL_CAP 64 /* MOBJ_LABEL_MAX + 1 */
#define MAX_OBJS 1024
#define MAX_MAPS 4096

struct handle {
	int fd;
	char label[LABEL_CAP]; /* "" when unlabeled */
	unsigned long long ino; /* 0: unknown */
	long long size;         /* -1: unknown */
	int seals;              /* -1: unknown */
	int accmode;            /* O_RDONLY, O_RDWR, ... or -1 */
};

struct mapping {
	char label[LABEL_CAP];
	unsigned long start, end, off;
	unsigned long long ino;
	char perms[5];
};

static int cmp_handle(const void *a, const void *b)
{
	const struct handle *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Whether @name (a /proc/PID/fd link or a /proc/PID/maps path) is a mobj
 * memfd, and its label into @label ("" without one). */
static bool mobj_memfd(const char *name, char *label)
{
	static const char pre[] = "/memfd:mobj", post[] = " (deleted)";
	size_t n = strlen(name), lab;

	if (n < sizeof(pre) - 1 + sizeof(post) - 1 ||
	    strncmp(name, pre, sizeof(pre) - 1) != 0 ||
	    strcmp(name + n - (sizeof(post) - 1), post) != 0)
		return false;
	name += sizeof(pre) - 1;
	lab = n - (sizeof(pre) - 1) - (sizeof(post) - 1);
	label[0] = '\0';
	if (lab == 0)
		return true;
	if (name[0] != ':' || lab - 1 == 0 || lab - 1 >= LABEL_CAP)
		return false;
	memcpy(label, name + 1, lab - 1);
	label[lab - 1] = '\0';
	return true;
}

/* "flags:\t0100002" and "ino:\t1234" from /proc/PID/fdinfo/N. */
static void read_fdinfo(pid_t pid, struct handle *h)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, h->fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags:", 6) == 0)
			h->accmode = (int)(strtoul(line + 6, NULL, 8) & O_ACCMODE);
		else if (strncmp(line, "ino:", 4) == 0 && !h->ino)
			h->ino = strtoull(line + 4, NULL, 10);
	}
	fclose(f);
}

static void read_file_state(pid_t pid, struct handle *h)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, h->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		/* stat() follows the link too and may work where open did not. */
		if (stat(path, &st) == 0) {
			h->ino = (unsigned long long)st.st_ino;
			h->size = (long long)st.st_size;
		}
		return;
	}
	if (fstat(fd, &st) == 0) {
		h->ino = (unsigned long long)st.st_ino;
		h->size = (long long)st.st_size;
	}
	h->seals = fcntl(fd, F_GET_SEALS);
	close(fd);
}

static int list_handles(pid_t pid, struct handle *hs, int max)
{
	char path[64], link[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < max) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		ssize_t len;

		if (e->d_name[0] == '.' || *end)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%ld", (int)pid, fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = 0;
		memset(&hs[n], 0, sizeof(hs[n]));
		if (!mobj_memfd(link, hs[n].label))
			continue;
		hs[n].fd = (int)fd;
		hs[n].size = -1;
		hs[n].seals = -1;
		hs[n].accmode = -1;
		read_fdinfo(pid, &hs[n]);
		read_file_state(pid, &hs[n]);
		n++;
	}
	closedir(d);
	qsort(hs, (size_t)n, sizeof(hs[0]), cmp_handle);
	return n;
}

static int list_mappings(pid_t pid, struct mapping *ms, int max)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < max) {
		struct mapping m;
		char name[300];
		int pos = 0;

		name[0] = 0;
		if (sscanf(line, "%lx-%lx %4s %lx %*s %llu %n", &m.start, &m.end,
		           m.perms, &m.off, &m.ino, &pos) < 5)
			continue;
		snprintf(name, sizeof(name), "%s", line + pos);
		name[strcspn(name, "\n")] = 0;
		if (!mobj_memfd(name, m.label))
			continue;
		ms[n++] = m;
	}
	fclose(f);
	return n;
}

static void print_size(FILE *out, long long size)
{
	if (size < 0) {
		fprintf(out, "size ?");
		return;
	}
	if (size >= (1LL << 30) && size % (1LL << 30) == 0)
		fprintf(out, "size %lld GiB", size >> 30);
	else if (size >= (1LL << 20) && size % (1LL << 20) == 0)
		fprintf(out, "size %lld MiB", size >> 20);
	else if (size >= 1024 && size % 1024 == 0)
		fprintf(out, "size %lld KiB", size >> 10);
	else
		fprintf(out, "size %lld", size);
}

static void print_seals(FILE *out, int seals)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		{ F_SEAL_SEAL, "seal" },
		{ F_SEAL_SHRINK, "shrink" },
		{ F_SEAL_GROW, "grow" },
		{ F_SEAL_WRITE, "write" },
		{ F_SEAL_FUTURE_WRITE, "future-write" },
	};
	const char *sep = "";
	size_t i;

	if (seals < 0) {
		fprintf(out, "seals ?");
		return;
	}
	fprintf(out, "seals ");
	if (!seals)
		fprintf(out, "none");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (seals & names[i].bit) {
			fprintf(out, "%s%s", sep, names[i].name);
			sep = ",";
		}
	if (seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE))
		fprintf(out, " (frozen)");
}

static const char *access_name(int accmode)
{
	switch (accmode) {
	case O_RDONLY: return "read-only";
	case O_RDWR: return "read-write";
	case O_WRONLY: return "write-only";
	default: return "access ?";
	}
}

/* Mappings of inode @ino, mirrors shown as one line. */
static int print_mappings(FILE *out, const struct mapping *ms, int n,
                          unsigned long long ino)
{
	int i, count = 0;

	for (i = 0; i < n; i++) {
		const struct mapping *m = &ms[i];

		if (m->ino != ino)
			continue;
		count++;
		if (i + 1 < n && ms[i + 1].ino == ino && m->off == 0 &&
		    ms[i + 1].off == 0 && ms[i + 1].start == m->end &&
		    ms[i + 1].end - ms[i + 1].start == m->end - m->start &&
		    strcmp(ms[i + 1].perms, m->perms) == 0) {
			fprintf(out, "    mapped 0x%lx-0x%lx %s mirror (2 x %lu bytes)\n",
			        m->start, ms[i + 1].end, m->perms,
			        m->end - m->start);
			i++;
			continue;
		}
		fprintf(out, "    mapped 0x%lx-0x%lx %s offset %lu (%lu bytes)\n",
		        m->start, m->end, m->perms, m->off, m->end - m->start);
	}
	if (!count)
		fprintf(out, "    not mapped\n");
	return count;
}

/* Size and seals of a mapped object with no handle, through
 * /proc/PID/map_files (opening those needs CAP_SYS_ADMIN in the target's
 * user namespace; without it both are shown as unknown). */
static void map_file_state(pid_t pid, const struct mapping *m, FILE *out)
{
	char path[96];
	struct stat st;
	int fd;
	long long size = -1;
	int seals = -1;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", (int)pid,
	         m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && (unsigned long long)st.st_ino == m->ino)
			size = (long long)st.st_size;
		if (size >= 0)
			seals = fcntl(fd, F_GET_SEALS);
		close(fd);
	}
	print_size(out, size);
	fprintf(out, ", ");
	print_seals(out, seals);
	fprintf(out, "\n");
}

int mobj_tool_info(pid_t pid, FILE *out, FILE *err)
{
	static struct handle hs[MAX_OBJS];
	static struct mapping ms[MAX_MAPS];
	int nh, nm, i, j, orphans = 0;

	nh = list_handles(pid, hs, MAX_OBJS);
	if (nh == -ENOENT) {
		fprintf(err, "mobj info: no process %d\n", (int)pid);
		return 1;
	}
	if (nh < 0) {
		fprintf(err, "mobj info: cannot read /proc/%d/fd: %s\n", (int)pid,
		        strerror(-nh));
		return 1;
	}
	nm = list_mappings(pid, ms, MAX_MAPS);
	if (nm < 0) {
		fprintf(err, "mobj info: cannot read /proc/%d/maps: %s\n",
		        (int)pid, strerror(-nm));
		return 1;
	}
	fprintf(out, "process %d: %d mobj handle%s\n", (int)pid, nh,
	        nh == 1 ? "" : "s");
	for (i = 0; i < nh; i++) {
		const struct handle *h = &hs[i];

		fprintf(out, "  fd %d: ", h->fd);
		if (h->label[0])
			fprintf(out, "label %s, ", h->label);
		fprintf(out, "inode %llu, ", h->ino);
		print_size(out, h->size);
		fprintf(out, ", %s, ", access_name(h->accmode));
		print_seals(out, h->seals);
		fprintf(out, "\n");
		for (j = 0; j < i && hs[j].ino != h->ino; j++)
			;
		if (j < i)
			fprintf(out, "    same object as fd %d\n", hs[j].fd);
		else if (h->ino)
			print_mappings(out, ms, nm, h->ino);
	}
	/* Mapped objects with no handle left (mappings outlive close). */
	for (i = 0; i < nm; i++) {
		bool seen = false;

		for (j = 0; j < nh && !seen; j++)
			seen = hs[j].ino == ms[i].ino;
		for (j = 0; j < i && !seen; j++)
			seen = ms[j].ino == ms[i].ino;
		if (seen)
			continue;
		if (!orphans++)
			fprintf(out, "mapped without a handle:\n");
		fprintf(out, "  inode %llu: ", ms[i].ino);
		if (ms[i].label[0])
			fprintf(out, "label %s, ", ms[i].label);
		map_file_state(pid, &ms[i], out);
		print_mappings(out, ms, nm, ms[i].ino);
	}
	return 0;
}
