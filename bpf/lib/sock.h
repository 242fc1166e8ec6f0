/* fd and 4-tuple without kprobes or offsets: while an SSL call runs on a thread, the socket
 * syscalls that thread makes reveal the fd; the socket behind it is resolved from the current
 * task with CO-RE. Works for connections opened before TlsScope started. */
#ifndef TLSSCOPE_SOCK_H
#define TLSSCOPE_SOCK_H

#define TSCOPE_AF_INET 2
#define TSCOPE_AF_INET6 10
#define TSCOPE_S_IFMT 0170000
#define TSCOPE_S_IFSOCK 0140000

/* Returns the struct sock behind fd in the current task, or 0 when fd is not a socket. */
static __always_inline __u64 sock_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) < 0 || !file)
		return 0;
	umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & TSCOPE_S_IFMT) != TSCOPE_S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return 0;
	return (__u64)BPF_CORE_READ(sock, sk);
}

static __always_inline void sock_addr_read(__u64 skp, struct tscope_sock_addr *a)
{
	struct sock *sk = (struct sock *)skp;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	a->family = 0;
	if (family == TSCOPE_AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(a->local_addr, &l, 4);
		__builtin_memcpy(a->remote_addr, &r, 4);
	} else if (family == TSCOPE_AF_INET6) {
		BPF_CORE_READ_INTO(&a->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&a->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	a->family = family;
	a->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	a->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

#endif
