// SPDX-License-Identifier: GPL-2.0-only
/* MemFlex's tiered page store (see mfstore.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mfstore.h"

static const uint8_t zero_page[MF_PAGE];

static void set_tier(struct mf_store *s, uint64_t page, enum mf_tier t)
{
	s->tier[page] = (uint8_t)t | MF_REFERENCED;
}

static void punch_pages(int fd, uint64_t first, uint64_t count)
{
	/* Failure leaves the bytes allocated, not wrong: the tier map no longer points at them. */
	(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(first * MF_PAGE),
			(off_t)(count * MF_PAGE));
}

static void punch(int fd, uint64_t page)
{
	punch_pages(fd, page, 1);
}

static bool page_is_zero(const uint8_t *p)
{
	return !memcmp(p, zero_page, MF_PAGE);
}

static int full_pwrite(int fd, const uint8_t *buf, size_t len, off_t at)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

static int full_pread(int fd, uint8_t *buf, size_t len, off_t at)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) { /* past the end of a sparse file that was never extended: zeros */
			memset(buf, 0, len);
			return 0;
		}
		buf += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

/* Mark every page of fd that holds data with tier t. */
static void scan_data(struct mf_store *s, int fd, enum mf_tier t)
{
	off_t end = (off_t)(s->pages * MF_PAGE), at = 0;

	while (at < end) {
		off_t data = lseek(fd, at, SEEK_DATA);
		if (data < 0 || data >= end)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		for (uint64_t p = (uint64_t)data / MF_PAGE; p * MF_PAGE < (uint64_t)hole; p++) {
			/* A move that stopped between its two steps: memory's copy is the newer. */
			if (t == MF_MEM && mf_store_tier(s, p) == MF_DISK)
				punch(s->disk_fd, p);
			set_tier(s, p, t);
		}
		at = hole;
	}
}

static int open_sized(const char *path, uint64_t size, bool *existed)
{
	struct stat sb;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*existed = sb.st_size != 0;
	if (sb.st_size && (uint64_t)sb.st_size != size) {
		close(fd);
		return -EEXIST;
	}
	if (!sb.st_size && ftruncate(fd, (off_t)size) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int mf_store_open(struct mf_store *s, const char *mem_path, const char *disk_path, uint64_t pages,
		  const struct mf_account_ops *acct, bool *reattached)
{
	bool mem_existed = false, disk_existed = false;
	int rc;

	memset(s, 0, sizeof(*s));
	s->mem_fd = s->disk_fd = -1;
	s->mem = MAP_FAILED;
	s->pages = pages;
	s->acct = *acct;
	*reattached = false;
	if (!pages || pages > (UINT64_C(1) << 40) / MF_PAGE)
		return -EINVAL;
	s->tier = calloc(pages, 1);
	s->mem_path = strdup(mem_path);
	s->disk_path = disk_path ? strdup(disk_path) : NULL;
	if (!s->tier || !s->mem_path || (disk_path && !s->disk_path)) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = open_sized(mem_path, pages * MF_PAGE, &mem_existed);
	if (rc < 0)
		goto fail;
	s->mem_fd = rc;
	if (disk_path) {
		rc = open_sized(disk_path, pages * MF_PAGE, &disk_existed);
		if (rc < 0)
			goto fail;
		s->disk_fd = rc;
	}
	s->mem = mmap(NULL, pages * MF_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->mem_fd, 0);
	if (s->mem == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	if (disk_existed)
		scan_data(s, s->disk_fd, MF_DISK);
	if (mem_existed)
		scan_data(s, s->mem_fd, MF_MEM);
	for (uint64_t p = 0; p < pages; p++) {
		s->st.in_mem += mf_store_tier(s, p) == MF_MEM;
		s->st.on_disk += mf_store_tier(s, p) == MF_DISK;
	}
	if (s->st.in_mem)
		s->acct.charge(s->acct.arg, s->st.in_mem, true);
	*reattached = mem_existed || disk_existed;
	return 0;
fail:
	mf_store_close(s, false);
	return rc;
}

void mf_store_close(struct mf_store *s, bool remove_files)
{
	if (s->mem != MAP_FAILED && s->mem)
		munmap(s->mem, s->pages * MF_PAGE);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	if (s->disk_fd >= 0)
		close(s->disk_fd);
	if (s->st.in_mem && s->acct.release)
		s->acct.release(s->acct.arg, s->st.in_mem);
	if (remove_files) {
		if (s->mem_path)
			unlink(s->mem_path);
		if (s->disk_path)
			unlink(s->disk_path);
	}
	free(s->tier);
	free(s->mem_path);
	free(s->disk_path);
	memset(s, 0, sizeof(*s));
	s->mem_fd = s->disk_fd = -1;
}

/* Take a memory page for `page` (which is not in memory), with its old bytes if any. */
static int to_memory(struct mf_store *s, uint64_t page)
{
	enum mf_tier was = mf_store_tier(s, page);

	if (s->acct.charge(s->acct.arg, 1, false))
		return -ENOSPC;
	if (was == MF_DISK) {
		int rc = full_pread(s->disk_fd, s->mem + page * MF_PAGE, MF_PAGE, (off_t)(page * MF_PAGE));
		if (rc) {
			punch(s->mem_fd, page);
			s->acct.release(s->acct.arg, 1);
			s->st.io_errors++;
			return rc;
		}
		punch(s->disk_fd, page);
		s->st.on_disk--;
	}
	s->st.in_mem++;
	set_tier(s, page, MF_MEM);
	return 0;
}

int mf_store_write_begin(struct mf_store *s, uint64_t page, unsigned int off, unsigned int len,
			 uint8_t *bounce, uint8_t **dst)
{
	enum mf_tier t = mf_store_tier(s, page);
	bool whole = off == 0 && len == MF_PAGE;

	/* A partial write to a page on disk stays on disk: only its own bytes are written there. */
	if (t == MF_MEM || ((whole || t == MF_ZERO) && to_memory(s, page) == 0)) {
		s->tier[page] |= MF_REFERENCED;
		*dst = s->mem + page * MF_PAGE + off;
		return 0;
	}
	if (s->disk_fd < 0)
		return -ENOSPC;
	*dst = bounce + off;
	return 0;
}

int mf_store_write_end(struct mf_store *s, uint64_t page, unsigned int off, unsigned int len,
		       const uint8_t *dst, bool copied)
{
	uint8_t *in_mem = s->mem + page * MF_PAGE;
	int rc;

	if (dst >= in_mem && dst < in_mem + MF_PAGE) {
		if (copied)
			s->st.writes++;
		/* Swap writes whole pages of zeros too: they cost nothing as a flag. */
		if (page_is_zero(in_mem)) {
			punch(s->mem_fd, page);
			s->acct.release(s->acct.arg, 1);
			s->st.in_mem--;
			s->tier[page] = MF_ZERO;
			if (copied)
				s->st.zero_writes++;
		}
		return 0;
	}
	if (!copied)
		return 0;
	rc = full_pwrite(s->disk_fd, dst, len, (off_t)(page * MF_PAGE + off));
	if (rc) {
		s->st.io_errors++;
		return rc;
	}
	if (mf_store_tier(s, page) != MF_DISK)
		s->st.on_disk++;
	set_tier(s, page, MF_DISK);
	s->st.writes++;
	s->st.spilled++;
	return 0;
}

int mf_store_read(struct mf_store *s, uint64_t page, unsigned int off, uint8_t *bounce,
		  const uint8_t **src)
{
	int rc;

	s->st.reads++;
	switch (mf_store_tier(s, page)) {
	case MF_MEM:
		s->tier[page] |= MF_REFERENCED;
		*src = s->mem + page * MF_PAGE + off;
		return 0;
	case MF_DISK:
		rc = full_pread(s->disk_fd, bounce, MF_PAGE, (off_t)(page * MF_PAGE));
		if (rc) {
			s->st.io_errors++;
			return rc;
		}
		*src = bounce + off;
		return 0;
	default:
		*src = zero_page + off;
		return 0;
	}
}

/*
 * Each run of pages in one tier is one hole punched, not one per page: a
 * dom0's punch is a system call and page-table updates through Xen.  Swap
 * discards whole clusters, so this took the lab's punches from 1.2 per
 * request to 0.004 (99-memflex-trace).
 */
void mf_store_discard(struct mf_store *s, uint64_t first, uint64_t count)
{
	uint64_t end = first + count < first || first + count > s->pages ? s->pages : first + count;
	uint64_t run = first;

	for (uint64_t p = first; p < end; p++) {
		enum mf_tier t = mf_store_tier(s, p);
		if (p + 1 < end && mf_store_tier(s, p + 1) == t)
			continue;
		/* pages [run, p] are all in tier t */
		uint64_t n = p + 1 - run;
		if (t == MF_MEM) {
			punch_pages(s->mem_fd, run, n);
			s->acct.release(s->acct.arg, n);
			s->st.in_mem -= n;
		} else if (t == MF_DISK) {
			punch_pages(s->disk_fd, run, n);
			s->st.on_disk -= n;
		}
		for (uint64_t q = run; q <= p; q++)
			s->tier[q] = MF_ZERO;
		s->st.discards += n;
		run = p + 1;
	}
}

uint64_t mf_store_demote(struct mf_store *s, uint64_t max)
{
	uint64_t moved = 0;

	if (s->disk_fd < 0)
		return 0;
	/* Two sweeps at most: the first may only clear referenced bits. */
	for (uint64_t seen = 0; moved < max && seen < 2 * s->pages && s->st.in_mem; seen++) {
		uint64_t p = s->hand;
		s->hand = (s->hand + 1) % s->pages;
		if (mf_store_tier(s, p) != MF_MEM)
			continue;
		if (s->tier[p] & MF_REFERENCED) {
			s->tier[p] &= (uint8_t)~MF_REFERENCED;
			continue;
		}
		/* The disk copy first: a restart between the two finds both and keeps memory's. */
		if (full_pwrite(s->disk_fd, s->mem + p * MF_PAGE, MF_PAGE, (off_t)(p * MF_PAGE))) {
			s->st.io_errors++;
			break;
		}
		punch(s->mem_fd, p);
		s->acct.release(s->acct.arg, 1);
		s->st.in_mem--;
		s->st.on_disk++;
		s->tier[p] = MF_DISK;
		s->st.demoted++;
		moved++;
	}
	return moved;
}
