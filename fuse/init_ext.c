/* init_ext.c: what the mount asks of the kernel at FUSE_INIT that libfuse 3.14 has no flag for. */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse_int.h"

/*
 * FUSE_DIRECT_IO_ALLOW_MMAP (protocol 7.39, Linux 6.6): a file opened with
 * direct I/O may still be mapped MAP_SHARED; the mapping goes through the
 * page cache while read(2) and write(2) stay direct. Without it a shared
 * mapping of a file under direct I/O fails with ENODEV, which is what
 * Python's mmap, ripgrep and databases that map their files met with
 * page-cache = false (the default). libfuse 3.14 knows no capability for
 * it, so the session's I/O goes through the two functions below (the
 * library's own hook, fuse_session_custom_io): the read notes the kernel's
 * INIT, and the writev adds the flag to our answer when the kernel offered
 * it. Nothing else passes through here but a read(2) and a writev(2).
 */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#define ALLOW_MMAP_FLAGS2 ((uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32))

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct qfs_mount *m = userdata;
	ssize_t n = read(fd, buf, len);
	const size_t hdr = sizeof(struct fuse_in_header);

	if (n >= (ssize_t)(hdr + offsetof(struct fuse_init_in, flags2) + sizeof(uint32_t))) {
		const struct fuse_in_header *in = buf;
		if (in->opcode == FUSE_INIT) {
			const struct fuse_init_in *init = (const void *)((const char *)buf + hdr);
			m->init_unique = in->unique;
			m->kernel_flags2 = (init->flags & FUSE_INIT_EXT) ? init->flags2 : 0;
		}
	}
	return n;
}

static void patch_init(struct qfs_mount *m, struct iovec *iov, int count)
{
	struct fuse_out_header out;
	struct fuse_init_out init;

	/* libfuse sends the header and the answer as one iovec each. */
	if (count < 2 || iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags2) + sizeof(init.flags2))
		return;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != m->init_unique)
		return;
	m->init_unique = 0;
	if (out.error != 0 || !(m->kernel_flags2 & ALLOW_MMAP_FLAGS2))
		return;
	memset(&init, 0, sizeof(init));
	memcpy(&init, iov[1].iov_base,
	       iov[1].iov_len < sizeof(init) ? iov[1].iov_len : sizeof(init));
	if (!(init.flags & FUSE_INIT_EXT))
		return; /* the kernel would not read flags2 */
	init.flags2 |= ALLOW_MMAP_FLAGS2;
	memcpy((char *)iov[1].iov_base + offsetof(struct fuse_init_out, flags2), &init.flags2,
	       sizeof(init.flags2));
	m->direct_io_mmap = true;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct qfs_mount *m = userdata;
	if (m->init_unique != 0 && count > 0)
		patch_init(m, iov, count);
	return writev(fd, iov, count);
}

int qfs__init_ext(struct qfs_mount *m)
{
	static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};
	/* Same descriptor: the session keeps owning (and closing) it. */
	return fuse_session_custom_io(m->se, &io, fuse_session_fd(m->se)) == 0 ? 0 : -EIO;
}
