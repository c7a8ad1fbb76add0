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
 *   on the target. When it is refused, or the file is not on the memfd
 *   mount (see struct shm_mount), size and seals are shown as unknown.
 * - Mappings: /proc/PID/maps lines naming /memfd:mobj, matched to handles by
 *   inode. Each line is read whole and parsed strictly (the names in it are
 *   the target's to choose); a line that does not parse is counted and said,
 *   and nothing read from /proc is printed unless validated (permissions),
 *   converted (numbers) or escaped (labels: every byte outside printable
 *   ASCII as \xHH). Objects can stay mapped after every handle is closed; those are
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "info.h"
#include "ring_layout.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define LABEL_CAP 64 /* MOBJ_LABEL_MAX + 1 */
#define MAX_OBJS 1024

struct handle {
	int fd;
	int mnt_id;            /* -1: unknown */
	char label[LABEL_CAP]; /* "" when unlabeled */
	unsigned long long ino; /* 0: unknown */
	long long size;         /* -1: unknown */
	int seals;              /* -1: unknown */
	int accmode;            /* O_RDONLY, O_RDWR, ... or -1 */
};

struct mapping {
	char label[LABEL_CAP];
	unsigned long start, end, off;
	unsigned dev_major, dev_minor;
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

/*
 * Opening one of the target's files runs that file system's open (and
 * closing it, its flush): for a FUSE file the target serves, as long as the
 * target likes, and the link text and the maps line name a file, not a
 * file system. So a file is opened only on the mount every memfd lives on
 * (the kernel's internal shm mount, never visible in a mount table), learnt
 * from a memfd of our own; anything else shows size and seals as unknown.
 */
struct shm_mount {
	int mnt_id;  /* -1: unknown, nothing is opened */
	dev_t dev;
};

/* "flags:\t0100002", "mnt_id:\t15" and "ino:\t1234" from
 * /proc/PID/fdinfo/N (written by the kernel, short lines). */
static void read_fdinfo(pid_t pid, int fd, struct handle *h)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags:", 6) == 0)
			h->accmode = (int)(strtoul(line + 6, NULL, 8) & O_ACCMODE);
		else if (strncmp(line, "mnt_id:", 7) == 0)
			h->mnt_id = (int)strtol(line + 7, NULL, 10);
		else if (strncmp(line, "ino:", 4) == 0 && !h->ino)
			h->ino = strtoull(line + 4, NULL, 10);
	}
	fclose(f);
}

static void learn_shm_mount(struct shm_mount *shm)
{
	struct handle h = { .mnt_id = -1 };
	struct stat st;
	int fd = memfd_create("mobj-info", MFD_CLOEXEC);

	shm->mnt_id = -1;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		read_fdinfo(getpid(), fd, &h);
		shm->mnt_id = h.mnt_id;
		shm->dev = st.st_dev;
	}
	close(fd);
}

static void read_file_state(pid_t pid, struct handle *h,
                            const struct shm_mount *shm)
{
	char path[64];
	struct stat st;
	int fd;

	if (shm->mnt_id < 0 || h->mnt_id != shm->mnt_id)
		return;
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

static int list_handles(pid_t pid, struct handle *hs, int max,
                        const struct shm_mount *shm)
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
		hs[n].mnt_id = -1;
		read_fdinfo(pid, hs[n].fd, &hs[n]);
		read_file_state(pid, &hs[n], shm);
		n++;
	}
	closedir(d);
	qsort(hs, (size_t)n, sizeof(hs[0]), cmp_handle);
	return n;
}

/* "rwxs": each field one of its two letters, or '-' for the first three. */
static bool valid_perms(const char *p)
{
	return strlen(p) == 4 && (p[0] == 'r' || p[0] == '-') &&
	       (p[1] == 'w' || p[1] == '-') && (p[2] == 'x' || p[2] == '-') &&
	       (p[3] == 's' || p[3] == 'p');
}

/* One whole line of /proc/PID/maps, without its newline: "start-end perms
 * offset dev inode name". True when it parses and maps a mobj object; *@bad
 * is set when it does not parse. The name is the rest of the line, however long: the
 * mapped file's path is the mapping process's to choose, and the kernel
 * escapes only '\n' in it. */
static bool parse_mapping(const char *line, struct mapping *m, bool *bad)
{
	char perms[8];
	int pos = -1;

	*bad = sscanf(line, "%lx-%lx %7s %lx %x:%x %llu %n", &m->start, &m->end,
	              perms, &m->off, &m->dev_major, &m->dev_minor, &m->ino,
	              &pos) < 7 || pos < 0 ||
	       m->start >= m->end || !valid_perms(perms);
	if (*bad)
		return false;
	memcpy(m->perms, perms, sizeof(m->perms));
	return mobj_memfd(line + pos, m->label);
}

/* The mappings of mobj objects in @pid, in *@out (the caller frees it),
 * and how many lines could not be parsed in *@bad: the count, or a
 * negative errno when the file could not be read. */
static int list_mappings(pid_t pid, struct mapping **out, int *bad)
{
	struct mapping *ms = NULL, *grown, m;
	char path[64], *line = NULL;
	size_t cap = 0, room = 0;
	int n = 0, err = 0;
	bool wrong;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*bad = 0;
	errno = 0;
	while (getline(&line, &cap, f) >= 0) {
		line[strcspn(line, "\n")] = '\0'; /* the kernel escapes others */
		if (!parse_mapping(line, &m, &wrong)) {
			*bad += wrong;
			continue;
		}
		if ((size_t)n == room) {
			room = room ? 2 * room : 64;
			grown = realloc(ms, room * sizeof(*ms));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			ms = grown;
		}
		ms[n++] = m;
	}
	if (!err && ferror(f))
		err = errno ? -errno : -EIO;
	free(line);
	fclose(f);
	if (err) {
		free(ms);
		return err;
	}
	*out = ms;
	return n;
}

/* A label is the target's to choose (any memfd name): every byte outside
 * printable ASCII, and the backslash, is shown as \xHH, so that nothing
 * it holds reaches the terminal as a control. */
static void print_label(FILE *out, const char *label)
{
	const unsigned char *p;

	fprintf(out, "label ");
	for (p = (const unsigned char *)label; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\\')
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	fprintf(out, ", ");
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
/* A one-page mapping that holds a ring's control page (src/ring_layout.h),
 * read through /proc/PID/mem (the permission reopening a descriptor needs:
 * ptrace-read). Shown only when the header is exactly a ring's, and only
 * as numbers and fixed words: in a producer's process the pages of its
 * consumers are the read-only ones that say "consumer". */
static void print_ring_page(FILE *out, pid_t pid, const struct mapping *m)
{
	struct mobj__ring_ctl c;
	char path[48];
	ssize_t n;
	int fd;

	if (m->off != 0 || m->perms[0] != 'r' ||
	    m->end - m->start != (unsigned long)sysconf(_SC_PAGESIZE))
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = pread(fd, &c, sizeof(c), (off_t)m->start);
	close(fd);
	if (n != (ssize_t)sizeof(c) || c.magic != MOBJ__RING_MAGIC ||
	    c.version != mobj__ring_page_version(c.flags) ||
	    c.header_size != sizeof(c) ||
	    (c.role != MOBJ__RING_PRODUCER && c.role != MOBJ__RING_CONSUMER))
		return;
	fprintf(out, "    ring %s page: capacity %llu, %s %llu%s%s%s\n",
	        c.role == MOBJ__RING_PRODUCER ? "producer" : "consumer",
	        (unsigned long long)c.capacity,
	        c.role == MOBJ__RING_PRODUCER ? "tail" : "head",
	        (unsigned long long)atomic_load(&c.index),
	        c.flags & MOBJ__RING_MULTI ? ", 1:N" : "",
	        c.flags & MOBJ__RING_OVERWRITE ? ", overwrite" : "",
	        atomic_load(&c.closed) ? ", closed" : "");
}

static int print_mappings(FILE *out, pid_t pid, const struct mapping *ms,
                          int n, unsigned long long ino)
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
		print_ring_page(out, pid, m);
	}
	if (!count)
		fprintf(out, "    not mapped\n");
	return count;
}

/* Size and seals of a mapped object with no handle, through
 * /proc/PID/map_files (opening those needs CAP_SYS_ADMIN in the target's
 * user namespace; without it both are shown as unknown). */
static void map_file_state(pid_t pid, const struct mapping *m,
                           const struct shm_mount *shm, FILE *out)
{
	char path[96];
	struct stat st;
	int fd = -1;
	long long size = -1;
	int seals = -1;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", (int)pid,
	         m->start, m->end);
	if (shm->mnt_id >= 0 && m->dev_major == major(shm->dev) &&
	    m->dev_minor == minor(shm->dev))
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
	struct mapping *ms = NULL;
	struct shm_mount shm;
	int nh, nm, i, j, bad = 0, orphans = 0;

	learn_shm_mount(&shm);
	nh = list_handles(pid, hs, MAX_OBJS, &shm);
	if (nh == -ENOENT) {
		fprintf(err, "mobj info: no process %d\n", (int)pid);
		return 1;
	}
	if (nh < 0) {
		fprintf(err, "mobj info: cannot read /proc/%d/fd: %s\n", (int)pid,
		        strerror(-nh));
		return 1;
	}
	nm = list_mappings(pid, &ms, &bad);
	if (nm < 0) {
		fprintf(err, "mobj info: cannot read /proc/%d/maps: %s\n",
		        (int)pid, strerror(-nm));
		return 1;
	}
	if (bad)
		fprintf(err, "mobj info: %d line%s of /proc/%d/maps could not be "
		        "parsed and %s left out\n", bad, bad == 1 ? "" : "s",
		        (int)pid, bad == 1 ? "is" : "are");
	if (nh == MAX_OBJS)
		fprintf(err, "mobj info: only the first %d handles are shown\n",
		        MAX_OBJS);
	fprintf(out, "process %d: %d mobj handle%s\n", (int)pid, nh,
	        nh == 1 ? "" : "s");
	for (i = 0; i < nh; i++) {
		const struct handle *h = &hs[i];

		fprintf(out, "  fd %d: ", h->fd);
		if (h->label[0])
			print_label(out, h->label);
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
			print_mappings(out, pid, ms, nm, h->ino);
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
			print_label(out, ms[i].label);
		map_file_state(pid, &ms[i], &shm, out);
		print_mappings(out, pid, ms, nm, ms[i].ino);
	}
	free(ms);
	return 0;
}
