/* Storage of the generated field tables (prb_ws_fields.h, from spec/prb.toml). */
#include <epan/packet.h>
#include <epan/tfs.h>

#include "prb_tables.h"
#define PRB_WS_FIELDS_DEFINE
#include "prb_ws_fields.h"
