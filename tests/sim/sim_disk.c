/* sim_disk.c: a node's simulated stable storage (hard state, snapshot, log, staging area). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_stage_free(struct sim_stage *s)
{
	free(s->bytes);
	memset(s, 0, sizeof(*s));
}

void sim_stage_write(struct sim_stage *s, const struct sim_chunk *ch)
{
	if (ch->offset == 0) {
		s->index = ch->snap_index;
		s->len = 0;
		s->broken = false;
	} else if (ch->snap_index != s->index || ch->offset > s->len) {
		/* a chunk that does not follow what is staged leaves a hole */
		s->broken = true;
		return;
	}
	size_t end = (size_t)ch->offset + ch->len;
	if (end > s->cap) {
		s->cap = end + 64;
		s->bytes = sim_xrealloc(s->bytes, s->cap);
	}
	if (ch->len)
		memcpy(s->bytes + ch->offset, ch->data, ch->len);
	if (end > s->len)
		s->len = end;
}

void sim_stage_copy(struct sim_stage *dst, const struct sim_stage *src)
{
	sim_stage_free(dst);
	*dst = *src;
	dst->bytes = NULL;
	dst->cap = 0;
	if (src->len) {
		dst->bytes = sim_memdup(src->bytes, src->len);
		dst->cap = src->len;
	}
}

void sim_batch_free(struct sim_batch *b)
{
	for (unsigned i = 0; i < b->n_chunks; i++)
		free(b->chunks[i].data);
	free(b->chunks);
	free(b->snap_bytes);
	sim_entries_free(b->entries, b->n_entries);
	for (unsigned i = 0; i < b->n_held; i++)
		sim_msg_free(&b->held[i]);
	free(b->held);
	free(b);
}

void sim_disk_free(struct sim_disk *d)
{
	free(d->snap_bytes);
	for (size_t i = 0; i < d->n; i++)
		free(d->log[i].data.base);
	free(d->log);
	sim_stage_free(&d->stage);
	memset(d, 0, sizeof(*d));
}

raft_index sim_disk_last(const struct sim_disk *d)
{
	if (d->n)
		return d->log[d->n - 1].index;
	return d->has_snap ? d->snap.index : 0;
}

const struct raft_entry *sim_disk_entry(const struct sim_disk *d, raft_index i)
{
	if (!d->n || i < d->log[0].index || i > d->log[d->n - 1].index)
		return NULL;
	return &d->log[i - d->log[0].index];
}

/* Drops stored entries with index >= @from. */
static void truncate_from(struct sim_disk *d, raft_index from)
{
	while (d->n && d->log[d->n - 1].index >= from) {
		d->n--;
		free(d->log[d->n].data.base);
	}
}

void sim_disk_compact(struct sim_disk *d, raft_index upto)
{
	size_t k = 0;
	while (k < d->n && d->log[k].index <= upto) {
		free(d->log[k].data.base);
		k++;
	}
	if (k) {
		memmove(d->log, d->log + k, (d->n - k) * sizeof(*d->log));
		d->n -= k;
	}
}

bool sim_disk_apply(struct sim_disk *d, const struct sim_batch *b, char *why, size_t cap)
{
	if (b->hs_changed)
		d->hs = b->hs;
	for (unsigned i = 0; i < b->n_chunks; i++)
		sim_stage_write(&d->stage, &b->chunks[i]);
	if (b->install) {
		free(d->snap_bytes);
		d->snap_bytes = sim_memdup(b->snap_bytes, b->meta.size);
		d->snap = b->meta;
		d->has_snap = true;
		if (b->keep_log)
			sim_disk_compact(d, b->meta.index);
		else
			truncate_from(d, 0);
	}
	if (b->n_entries) {
		raft_index first = b->entries[0].index;
		truncate_from(d, first);
		raft_index last = sim_disk_last(d);
		if (first > last + 1 || (d->n == 0 && d->has_snap && first != d->snap.index + 1)) {
			snprintf(why, cap,
			         "batch %" PRIu64 " stores entries from %" PRIu64
			         " but the stored log ends at %" PRIu64 " (snapshot %" PRIu64 ")",
			         b->id, first, last, d->has_snap ? d->snap.index : 0);
			return false;
		}
		if (d->n + b->n_entries > d->cap) {
			d->cap = (d->n + b->n_entries) * 2;
			d->log = sim_xrealloc(d->log, d->cap * sizeof(*d->log));
		}
		for (unsigned i = 0; i < b->n_entries; i++) {
			struct raft_entry *e = &d->log[d->n++];
			*e = b->entries[i];
			e->data.base = sim_memdup(b->entries[i].data.base, b->entries[i].data.len);
			if (!e->data.base)
				e->data.len = 0;
		}
	}
	return true;
}
