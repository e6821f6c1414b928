/* crc32c.h: CRC-32C (Castagnoli), the checksum of log entries and snapshots. */
#ifndef QUORUMFS_CRC32C_H
#define QUORUMFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * qfs_crc32c - extend a CRC-32C over @len bytes at @data.
 * @crc: 0 to start, or the result of a previous call to continue.
 * Returns the new CRC. Pure; safe from any thread.
 */
uint32_t qfs_crc32c(uint32_t crc, const void *data, size_t len);

#endif
