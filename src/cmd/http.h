/* http.h: the node's HTTP status endpoint (/status, /metrics, the cluster page at /). */
#ifndef QUORUMFS_CMD_HTTP_H
#define QUORUMFS_CMD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/config.h"

struct node;
struct qfs_http;

/*
 * qfs_http_start - serve @address ("ip:port", resolved) with libmicrohttpd
 * in its own thread. The thread never calls the node: the loop publishes a
 * snapshot of the node's status every 200 ms (a timer on @loop), and the
 * thread answers from it and from the metrics registry (metrics.h), so a
 * slow or stuck HTTP client never delays the loop that answers FUSE.
 * @node, @loop: borrowed until qfs_http_stop().
 * @cfg: read now (each member's http-address, for the page); not kept.
 * Returns 0 and *@out, or a negative error with one line in @err.
 */
int qfs_http_start(uv_loop_t *loop, struct node *node, const struct qfs_config *cfg,
                   const char *address, struct qfs_http **out, char *err, size_t errlen);

/* qfs_http_stop - stop serving (joins the thread), close the timer; the
 * memory is freed once it closed. Call on the loop, before node_stop(). */
void qfs_http_stop(struct qfs_http *h);

#endif
