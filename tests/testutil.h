/*
 * Helpers shared by the test programs: resource counting (every test that
 * touches descriptors or mappings checks that none leaked) and running a
 * function in a real child process.
 */
#ifndef MOBJ_TESTUTIL_H
#define MOBJ_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Open descriptors, mappings and (Darwin) Mach port names of this process
 * right now. Mappings: Linux counts the lines of /proc/self/maps (only
 * memfd mappings under valgrind and the sanitizers, whose allocators map
 * memory of their own); Darwin counts the VM regions mapped the way the
 * backend maps (VM_INHERIT_NONE), since libmalloc maps and unmaps regions
 * of its own as the heap grows. Ports: 0 on Linux; on Darwin every name in
 * the task, as a leaked right is the Darwin analogue of a leaked fd. */
struct tu_res {
	int fds;
	int maps;
	int ports;
};
struct tu_res tu_res_now(void);

/* Fails the current cmocka test when descriptors or mappings differ from
 * @before.
 *
 * Both calls first wait (at most 5 s) until the library's disposal thread
 * has closed everything handed to it so far (Linux: descriptors a peer
 * sent that may block on close, and channel sockets, src/linux/dispose.c),
 * and make sure that thread exists, so that its own socket pair and stack
 * are in every baseline. The counts stay exact: nothing is tolerated, the
 * check only runs once the library says its closes are done. That needs
 * the library's internals (a weak reference, resolved in test programs
 * linked with mobj_internal_dep); programs linked with the shared library
 * do not use channels and skip the wait. */
void tu_res_check(struct tu_res before);

/* The same check for a child process, which reports by exit code: true
 * when descriptors and mappings are what they were. */
bool tu_res_same(struct tu_res before, struct tu_res now);

/* Linux: descriptors and mappings of memory objects only, for tests whose
 * other threads make glibc and jemalloc map memory of their own (thread
 * stacks and thread caches outlive the threads). */
struct tu_res tu_res_objects(void);
void tu_res_objects_check(struct tu_res before);

/* Runs @fn(@arg) in a forked child and returns its exit status (or 128 +
 * signal number when it died of a signal). The child never returns into the
 * test runner. */
int tu_in_child(int (*fn)(void *arg), void *arg);

/* Re-executes this test binary as a helper: argv becomes
 * {self, "--helper", name, args...}. Returns the child's pid, or -1. */
pid_t tu_spawn_helper(const char *name, const char *const *args);

/* Polls *@flag (set with __atomic_store_n, release) every 10 ms for up to
 * @timeout_ms: true once it is nonzero. For a call run on another thread
 * that a bug would keep from ever returning. */
bool tu_wait_flag(volatile int *flag, int timeout_ms);

/* Milliseconds on the monotonic clock. */
uint64_t tu_now_ms(void);

/* Threads of this process (Linux: entries of /proc/self/task; Darwin:
 * task_threads()), for checks that a call started none. */
int tu_count_threads(void);

/* Waits for @pid; exit status or 128 + signal. */
int tu_wait(pid_t pid);

/* If argv names a helper, runs it from @table and exits; otherwise returns.
 * Call it first in main(): it also records the binary tu_spawn_helper runs. */
struct tu_helper {
	const char *name;
	int (*fn)(int argc, char **argv);
};
void tu_helper_dispatch(int argc, char **argv, const struct tu_helper *table);

/* Writes one byte at @p the way a debugger would, past the mapping's
 * protection where the system allows it: Linux /proc/self/mem, Darwin
 * mach_vm_write() into this task. True if the write went through. */
bool tu_poke_mem(void *p, unsigned char byte);

/* 0 when the page at @addr can be made writable neither by mprotect() nor
 * by tu_poke_mem(); 1 or 2 saying which one let it. */
int tu_cannot_write(const void *addr);

struct mobj_chan;
/* Forks, with a channel between parent and child: returns the child's pid
 * in the parent and 0 in the child, each with its end in @c (the other end
 * is closed). Linux: a mobj_chan_pair(), which fork() carries. Darwin: the
 * pair does not cross fork() (include/mobj/chan.h), so the parent listens
 * on a fresh name, the child connects and the parent accepts. Fails the
 * current test if it cannot. */
pid_t tu_fork_chan(struct mobj_chan **c);

/* tu_fork_chan(), and the child joins the ring the parent sends on @c
 * (mobj_ring_recv) and then parks, reading nothing, until it is killed
 * (at most 20 s: alarm, should the parent fail first); exit status 10 if
 * it could not join. The parent's return is the child's pid. */
pid_t tu_fork_parked_consumer(struct mobj_chan **c);

#ifdef __linux__
/* A memfd of @size bytes with @seals added (0: none), as another program
 * might make one; fails the current test if it cannot. */
int tu_memfd(size_t size, unsigned seals);

/* In this process (a child: it cannot be undone), take /proc away the way
 * a chroot or a sandbox without it does: a private mount namespace with
 * /proc detached, so /proc/self/fd is gone (ENOENT). Mappings are still
 * counted (through a descriptor of /proc/self opened before). Returns 0,
 * or a negative errno when the system refuses (not root). */
int tu_hide_proc(void);

/* tu_in_child(@fn, @arg) with /proc hidden in the child (tu_hide_proc), and
 * the child checks that @fn leaked nothing when it returns 0. Exit status
 * 99: /proc could not be hidden; 98: something leaked. */
int tu_in_child_without_proc(int (*fn)(void *arg), void *arg);

/* The tests' own IPC for struct mobj_ring_xfer (set-up over IPC the user
 * owns), as an application would write it: one SOCK_SEQPACKET message per
 * xfer, its descriptors (objects, event_fd, pidfd) as SCM_RIGHTS, sizes and
 * meta as bytes. recv rebuilds what arrived (objects with mobj_from_fd(),
 * descriptors as they are, the rest -1); release closes what it holds.
 * send and recv return 0 or -1. */
struct mobj_ring_xfer;
int tu_xfer_send(int sock, const struct mobj_ring_xfer *x);
int tu_xfer_recv(int sock, struct mobj_ring_xfer *x);
void tu_xfer_release(struct mobj_ring_xfer *x);
#endif

#ifdef __APPLE__
#include <mach/message.h>
/* Sends a message of a bare header (id 0x5a5a, no body) to @dest, carried
 * with @disp (MACH_MSG_TYPE_COPY_SEND or MAKE_SEND), waiting at most
 * @timeout_ms for room in its queue. A send that fails once the kernel
 * took the message in hands it back with the right it carried (XNU
 * mach_msg_receive_pseudo): it is destroyed here, so no reference leaks.
 * Returns mach_msg's code. */
mach_msg_return_t tu_send_empty(mach_port_t dest, mach_msg_type_name_t disp,
                                int timeout_ms);
#endif

/* Per system (testutil_linux.c, testutil_darwin.c), for testutil.c. */
int tu__count_maps(void);
int tu__count_object_maps(void); /* Linux: mappings of memfds only */
int tu__count_ports(void);
const char *tu__self_exe(void);
void tu__settle(void); /* the wait described at tu_res_check */

#endif
