/* CRC32C (Castagnoli) for the TCP binding's digests, on ISA-L. */
#include <limits.h>

#include <isa-l/crc.h>

#include <prb/wire.h>

uint32_t prb_crc32c(const void *buf, size_t len)
{
	/* crc32_iscsi does no pre/post inversion and takes an int length. */
	unsigned char *p = (unsigned char *)buf;
	uint32_t crc = 0xFFFFFFFFU;

	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;

		crc = crc32_iscsi(p, chunk, crc);
		p += chunk;
		len -= (size_t)chunk;
	}
	return ~crc;
}
