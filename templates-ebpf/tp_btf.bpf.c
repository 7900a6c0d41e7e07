// SPDX-License-Identifier: GPL-2.0
/* tracectl template: BTF-typed raw tracepoint; argument i is ctx[i] */
#include "capture.h"

SEC("tp_btf")
int tracectl_tpbtf(__u64 *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	tc_fill_btf(ctx, s, 0);
	return tc_finish(ctx, s);
}
