// SPDX-License-Identifier: GPL-2.0
/* tracectl template: fexit (BPF trampoline at function return); arguments and the return value */
#include "capture.h"

SEC("fexit")
int tracectl_fexit(__u64 *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	tc_fill_btf(ctx, s, 1);
	return tc_finish(ctx, s);
}
