// SPDX-License-Identifier: GPL-2.0
/* tracectl template: tracepoint (tracefs event); the args area is a copy of the raw record */
#include "capture.h"

SEC("tracepoint")
int tracectl_tp(void *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	if (CFG.ctx_copy)
		bpf_probe_read_kernel(s->args, CFG.ctx_copy, ctx);
	return tc_finish(ctx, s);
}
