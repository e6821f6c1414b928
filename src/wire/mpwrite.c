/* mpwrite.c: the fixed-buffer packer target of mpwrite.h. */
#include <string.h>

#include "mpwrite.h"

int wire__fixed_write(void *data, const char *buf, size_t len)
{
	struct wire__fixed_buf *b = data;
	if (b->len + len > b->cap) {
		b->overflow = 1;
		return -1;
	}
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	return 0;
}
