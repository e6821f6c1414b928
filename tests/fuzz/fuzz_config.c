/* fuzz_config.c: libFuzzer target for the INI configuration parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/config.h"
#include "quorumfs/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Any text either loads into a configuration that keeps its invariants or
 * is refused with a one-line message. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qfs_config cfg;
	char err[512] = "";
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int rc = qfs_config_parse(text, "/fuzz/cluster.conf", &cfg, err, sizeof(err));
	free(text);
	if (rc == 0) {
		if (cfg.n_nodes == 0 || cfg.n_nodes > QFS_CONFIG_MAX_NODES || cfg.name[0] == '\0' ||
		    cfg.election_ms < 3 * cfg.heartbeat_ms || cfg.max_value_size == 0)
			abort();
		for (unsigned i = 0; i < cfg.n_nodes; i++)
			if (cfg.nodes[i].id == 0 || cfg.nodes[i].address[0] == '\0')
				abort();
	} else if (rc != QFS_ECONFIG && rc != -12 /* ENOMEM */) {
		abort();
	} else if (err[0] == '\0' || strchr(err, '\n') != NULL) {
		abort();
	}
	return 0;
}
