// SPDX-License-Identifier: MIT
/*
 * Socket -> process attribution for netwatch (CO-RE, libbpf; no kprobes, no fentry).
 *
 * Every hook below runs where the kernel version netwatch targets allows it, and each
 * only *reports*: the cgroup programs always return 1 (allow), nothing is filtered.
 *
 *   cgroup/connect4|6, sendmsg4|6, post_bind4|6  (attached to the root cgroup v2)
 *       run in the calling task: tgid, uid, comm, socket cookie, the address asked for
 *       (connect and sendmsg: UDP only; TCP owners come from SYN_SENT).
 *   tp_btf/inet_sock_set_state
 *       TCP lifecycle. SYN_SENT and LISTEN happen inside connect()/listen(), so the
 *       current task is the owner; ESTABLISHED brings the final 4-tuple (often from
 *       softirq, so its task fields are ignored by user space); CLOSE retires it.
 *   tp_btf/sock_send_length
 *       the first send on a UDP socket, after the kernel has autobound a local port.
 *   iter/task_file
 *       the sockets that already exist when netwatch starts.
 *
 * The thread-group leader's comm is recorded (not the thread's, so a browser's
 * "Socket Thread" does not name the process) wherever the task is reachable.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "netwatch_attrib.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_LISTEN 10

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Per-socket "already reported" bits, kept in the socket itself (socket-local storage:
 * no hash lookup, freed with the socket): bit 0 = the first unconnected send was
 * reported; bits 16..31 = the local port the first UDP send reported. A busy UDP
 * socket thus yields an event or two, not one per datagram. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} reported SEC(".maps");

/* Events dropped because the ring buffer was full (read by user space, shown). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline struct nw_event *reserve(__u8 kind)
{
	struct nw_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

static __always_inline void fill_current(struct nw_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
}

/* Tracing programs can reach the task: use the leader's comm and the parent's tgid,
 * and keep the executable's name and the start of argv in case the process is gone
 * before user space can read /proc (a 10 ms curl). */
static __always_inline void fill_task(struct nw_event *e)
{
	struct task_struct *t = bpf_get_current_task_btf();
	fill_current(e);
	bpf_probe_read_kernel(&e->comm, sizeof(e->comm), &t->group_leader->comm);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	if (!mm)
		return;
	const unsigned char *name = BPF_CORE_READ(mm, exe_file, f_path.dentry, d_name.name);
	if (name)
		bpf_probe_read_kernel_str(&e->exe, sizeof(e->exe), name);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u32 n = end > start ? end - start : 0;
	if (n > NW_ARGS_LEN - 1)
		n = NW_ARGS_LEN - 1; /* the last byte stays NUL */
	bpf_probe_read_user(&e->args, n & (NW_ARGS_LEN - 1), (void *)start);
}

/* ---- cgroup sock_addr hooks ------------------------------------------------------ */

static __always_inline int on_addr(struct bpf_sock_addr *ctx, __u8 kind, int v6)
{
	struct nw_event *e;
	__u32 proto = ctx->protocol;

	/* TCP owners come from SYN_SENT (richer: the leader's comm, argv): only UDP here. */
	if (proto != IPPROTO_UDP)
		return 1;
	if (kind == NW_SENDMSG) {
		/* Once per socket: the owner is all user space needs (it files an unconnected
		 * socket by its local port), and a server answering many peers through one
		 * socket (a DNS server) must not cost an event per datagram. */
		struct bpf_sock *sk = ctx->sk;
		if (!sk)
			return 1;
		__u32 *bits = bpf_sk_storage_get(&reported, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!bits || (*bits & 1))
			return 1;
		*bits |= 1;
	}
	__u64 cookie = bpf_get_socket_cookie(ctx);
	e = reserve(kind);
	if (!e)
		return 1;
	fill_current(e);
	e->cookie = cookie;
	e->proto = proto;
	e->family = v6 ? AF_INET6 : AF_INET;
	e->rport = bpf_ntohs((__u16)ctx->user_port);
	if (v6) {
		__u32 *a = (__u32 *)e->raddr;
		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
	} else {
		*(__u32 *)e->raddr = ctx->user_ip4;
	}
	if (ctx->sk) {
		struct bpf_sock *sk = ctx->sk;
		e->lport = sk->src_port;
	}
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("cgroup/connect4")
int nw_connect4(struct bpf_sock_addr *ctx) { return on_addr(ctx, NW_CONNECT, 0); }

SEC("cgroup/connect6")
int nw_connect6(struct bpf_sock_addr *ctx) { return on_addr(ctx, NW_CONNECT, 1); }

SEC("cgroup/sendmsg4")
int nw_sendmsg4(struct bpf_sock_addr *ctx) { return on_addr(ctx, NW_SENDMSG, 0); }

SEC("cgroup/sendmsg6")
int nw_sendmsg6(struct bpf_sock_addr *ctx) { return on_addr(ctx, NW_SENDMSG, 1); }

static __always_inline int on_bind(struct bpf_sock *sk, int v6)
{
	__u32 proto = sk->protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	struct nw_event *e = reserve(NW_BIND);
	if (!e)
		return 1;
	fill_current(e);
	e->cookie = bpf_get_socket_cookie(sk);
	e->proto = proto;
	e->family = v6 ? AF_INET6 : AF_INET;
	e->lport = sk->src_port;
	if (v6) {
		__u32 *a = (__u32 *)e->laddr;
		a[0] = sk->src_ip6[0];
		a[1] = sk->src_ip6[1];
		a[2] = sk->src_ip6[2];
		a[3] = sk->src_ip6[3];
	} else {
		*(__u32 *)e->laddr = sk->src_ip4;
	}
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("cgroup/post_bind4")
int nw_post_bind4(struct bpf_sock *sk) { return on_bind(sk, 0); }

SEC("cgroup/post_bind6")
int nw_post_bind6(struct bpf_sock *sk) { return on_bind(sk, 1); }

/* ---- tracepoints ----------------------------------------------------------------- */

static __always_inline void fill_tuple(struct nw_event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->proto = BPF_CORE_READ(sk, sk_protocol);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nw_set_state, const struct sock *sk, int oldstate, int newstate)
{
	__u8 kind;

	if (newstate == TCP_SYN_SENT)
		kind = NW_SYN_SENT;
	else if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_SENT)
		kind = NW_ESTAB; /* active opens only: an accepted socket is the listener's */
	else if (newstate == TCP_LISTEN)
		kind = NW_LISTEN;
	else if (newstate == TCP_CLOSE)
		kind = NW_CLOSE;
	else
		return 0;
	struct nw_event *e = reserve(kind);
	if (!e)
		return 0;
	/* Only SYN_SENT and LISTEN are certain to run in the owning task (inside connect()
	 * and listen()); ESTABLISHED often runs in softirq, where "current" is whichever
	 * task was interrupted, and CLOSE needs no owner: their task fields stay zero. */
	if (kind == NW_SYN_SENT || kind == NW_LISTEN)
		fill_task(e);
	e->cookie = bpf_get_socket_cookie((void *)sk);
	e->state = newstate;
	fill_tuple(e, sk);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(nw_send_length, struct sock *sk, int ret, int flags)
{
	if (sk->sk_protocol != IPPROTO_UDP || ret < 0)
		return 0;
	__u32 port = sk->__sk_common.skc_num;
	__u32 *bits = bpf_sk_storage_get(&reported, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!bits || (*bits >> 16) == port)
		return 0;
	*bits = (*bits & 0xffff) | (port << 16);
	struct nw_event *e = reserve(NW_UDP_SEND);
	if (!e)
		return 0;
	fill_task(e);
	e->cookie = bpf_get_socket_cookie(sk);
	fill_tuple(e, sk);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- start-up walk ----------------------------------------------------------------- */

SEC("iter/task_file")
int nw_iter(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct nw_event e;
	struct socket *sock;
	struct sock *sk;

	if (!task || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__builtin_memset(&e, 0, sizeof(e));
	fill_tuple(&e, sk);
	if (e.family != AF_INET && e.family != AF_INET6)
		return 0;
	if (e.proto != IPPROTO_TCP && e.proto != IPPROTO_UDP)
		return 0;
	e.kind = NW_ITER;
	e.tgid = BPF_CORE_READ(task, tgid);
	e.tid = BPF_CORE_READ(task, pid);
	e.uid = BPF_CORE_READ(task, cred, uid.val);
	e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	BPF_CORE_READ_INTO(&e.comm, task, group_leader, comm);
	bpf_seq_write(seq, &e, sizeof(e));
	return 0;
}
