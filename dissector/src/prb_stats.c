/* Service response time statistics: Statistics > Service Response Time > PRB in Wireshark,
 * tshark -z srt,prb. One row per opcode, fed by every paired response. */
#include "prb_dissector.h"

#include <epan/srt_table.h>
#include <epan/tap.h>

static int prb_tap = -1;

/* What a response hands the tap. */
struct prb_tap_data {
	uint8_t opcode;
	nstime_t request_time;
};

/* Row of an opcode: its index in the generated opcode names, or -1. */
static int opcode_row(uint8_t opcode)
{
	for (int i = 0; prb_vals_opcode[i].strptr != NULL; i++) {
		if (prb_vals_opcode[i].value == opcode)
			return i;
	}
	return -1;
}

static void prb_srt_init(struct register_srt *srt _U_, GArray *srt_array)
{
	int rows = 0;
	srt_stat_table *table;

	while (prb_vals_opcode[rows].strptr != NULL)
		rows++;
	table = init_srt_table("prb operations", NULL, srt_array, rows, "Operation", "prb", NULL);
	for (int i = 0; i < rows; i++)
		init_srt_table_row(table, i, prb_vals_opcode[i].strptr);
}

static tap_packet_status prb_srt_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_,
					const void *data, tap_flags_t flags _U_)
{
	srt_data_t *srt = tapdata;
	const struct prb_tap_data *t = data;
	int row = opcode_row(t->opcode);

	if (row < 0)
		return TAP_PACKET_DONT_REDRAW;
	add_srt_table_data(g_array_index(srt->srt_array, srt_stat_table *, 0), row,
			   &t->request_time, pinfo);
	return TAP_PACKET_REDRAW;
}

void prb_stats_response(packet_info *pinfo, const struct prb_pdu *pdu, const struct prb_txn *txn)
{
	struct prb_tap_data *t;

	if (txn == NULL || !pdu->response || !have_tap_listener(prb_tap))
		return;
	t = wmem_new(pinfo->pool, struct prb_tap_data);
	t->opcode = pdu->opcode;
	t->request_time = txn->request_time;
	tap_queue_packet(prb_tap, pinfo, t);
}

void prb_stats_register(void)
{
	prb_tap = register_tap("prb");
	register_srt_table(proto_prb, NULL, 1, prb_srt_packet, prb_srt_init, NULL);
}
