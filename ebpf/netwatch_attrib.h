/* SPDX-License-Identifier: MIT
 *
 * The record the attribution programs hand to user space, one per event, through the
 * ring buffer (and, for the start-up socket walk, through the iterator's seq file).
 * netwatch/attribution/ebpf_events.py decodes exactly this layout: keep them in step.
 * All integers are host byte order; addresses are network order, IPv4 in the first
 * four bytes.
 */
#ifndef NETWATCH_ATTRIB_H
#define NETWATCH_ATTRIB_H

#define NW_COMM_LEN 16
#define NW_EXE_LEN 48   /* basename of the executable (not cut at 16 like comm) */
#define NW_ARGS_LEN 128 /* the start of argv, NUL-separated, as in /proc/PID/cmdline */

enum nw_kind {
	NW_CONNECT = 1,  /* cgroup connect4/6 (UDP): caller, cookie, remote address */
	NW_SENDMSG = 2,  /* cgroup sendmsg4/6: first unconnected UDP send of a socket */
	NW_BIND = 3,     /* cgroup post_bind4/6: caller, local address and port */
	NW_SYN_SENT = 4, /* TCP CLOSE -> SYN_SENT, in the connecting task */
	NW_ESTAB = 5,    /* TCP SYN_SENT -> ESTABLISHED: the full tuple, any context */
	NW_LISTEN = 6,   /* TCP -> LISTEN, in the listening task */
	NW_CLOSE = 7,    /* TCP -> CLOSE */
	NW_UDP_SEND = 8, /* first send on a UDP socket: local port after autobind */
	NW_ITER = 9,     /* a socket that existed at start-up (iter/task_file) */
};

struct nw_event {
	__u64 cookie;
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u32 ppid;
	__u8 kind;
	__u8 proto;
	__u8 family;
	__u8 state;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[NW_COMM_LEN];
	/* Filled by the tracing programs only (they run in the owning task), so a process
	 * that exits before user space reads /proc is still named in full. */
	char exe[NW_EXE_LEN];
	char args[NW_ARGS_LEN];
};

#endif
