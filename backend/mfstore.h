/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MemFlex's page store: what a guest wrote to its swap disk, kept as 4 KiB
 * pages in one of two tiers, tmem-like (a written page stays readable until
 * it is discarded or overwritten).
 *
 *   memory  a sparse file in /dev/shm (tmpfs), mapped: a page costs host
 *           memory only once written, is charged to the guest's account,
 *           and survives a restart of xenshmd, which reattaches the file;
 *   disk    a sparse spill file in dom0's filesystem, for pages that do not
 *           fit the guest's memory quota or the host budget, and for cold
 *           pages moved out when dom0 wants memory back;
 *   zero    neither: never written, discarded, or written as all zeros.
 *
 * Where each page lives is a byte per page in memory, rebuilt after a
 * restart from the files' own holes (SEEK_DATA): memory wins when both hold
 * a page, because every move writes the new copy before punching the old.
 * A write goes to memory when the charge succeeds, else straight to disk
 * (the writer never waits for pages to be moved); a page on disk comes back
 * to memory only when it is written again, so pages do not bounce.
 */
#ifndef XENSHM_BACKEND_MFSTORE_H
#define XENSHM_BACKEND_MFSTORE_H

#include <stdbool.h>
#include <stdint.h>

#define MF_PAGE 4096u

enum mf_tier { MF_ZERO = 0, MF_MEM = 1, MF_DISK = 2 };
#define MF_TIER_MASK 0x03u
#define MF_REFERENCED 0x80u /* read or written since the clock hand last passed */

struct mf_store_stats {
	uint64_t in_mem, on_disk;          /* pages */
	uint64_t reads, writes, discards;  /* pages */
	uint64_t zero_writes;              /* writes that left an all-zero page: stored as a flag */
	uint64_t spilled;                  /* writes that went to disk: no memory for them */
	uint64_t demoted;                  /* pages moved from memory to disk */
	uint64_t io_errors;                /* spill file reads/writes that failed */
};

/*
 * Memory for the memory tier: charge pages (0, or -EDQUOT/-ENOSPC to refuse),
 * or with force take them whatever the limits (a reattached store's pages
 * are already there).  release gives pages back.
 */
struct mf_account_ops {
	int (*charge)(void *arg, uint64_t pages, bool force);
	void (*release)(void *arg, uint64_t pages);
	void *arg;
};

struct mf_store {
	uint64_t pages;
	int mem_fd, disk_fd;   /* disk_fd -1: no spill tier */
	uint8_t *mem;          /* mem_fd mapped, pages * MF_PAGE */
	uint8_t *tier;         /* one byte per page: enum mf_tier | MF_REFERENCED */
	uint64_t hand;         /* the clock that picks cold pages */
	char *mem_path, *disk_path;
	struct mf_account_ops acct;
	struct mf_store_stats st;
};

/*
 * Open (or reattach) a store of `pages` pages.  disk_path may be NULL (no
 * spill tier).  An existing memory file of the same size is reattached and
 * its pages force-charged; *reattached says so.  -EEXIST if a file exists
 * with another size.
 */
int mf_store_open(struct mf_store *s, const char *mem_path, const char *disk_path, uint64_t pages,
		  const struct mf_account_ops *acct, bool *reattached);
/* Unmap and close; with remove_files also delete both files (the device is gone for good). */
void mf_store_close(struct mf_store *s, bool remove_files);

/*
 * Where `len` bytes written at `off` inside page `page` must land: in the
 * memory tier directly (*dst into the mapping) or, when memory is refused,
 * in `bounce` (one page of the caller's) to be written to disk by
 * mf_store_write_end.  -ENOSPC if there is no room in either tier.  The
 * caller checks page < pages and off + len <= MF_PAGE.
 */
int mf_store_write_begin(struct mf_store *s, uint64_t page, unsigned int off, unsigned int len,
			 uint8_t *bounce, uint8_t **dst);
/* After the bytes arrived (copied says whether they did): the disk write, zero-page check. */
int mf_store_write_end(struct mf_store *s, uint64_t page, unsigned int off, unsigned int len,
		       const uint8_t *dst, bool copied);
/* Where to copy a read from: the mapping, a zero page, or `bounce` filled from disk. */
int mf_store_read(struct mf_store *s, uint64_t page, unsigned int off, uint8_t *bounce,
		  const uint8_t **src);
/* Forget pages [first, first + count): their memory and disk space go back at once. */
void mf_store_discard(struct mf_store *s, uint64_t first, uint64_t count);
/*
 * Move up to `max` cold memory pages to disk (a clock: a page read or written
 * since the hand last passed gets another round).  Returns pages moved; 0
 * without a spill tier.
 */
uint64_t mf_store_demote(struct mf_store *s, uint64_t max);

static inline enum mf_tier mf_store_tier(const struct mf_store *s, uint64_t page)
{
	return (enum mf_tier)(s->tier[page] & MF_TIER_MASK);
}

#endif
