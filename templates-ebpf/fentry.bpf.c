// SPDX-License-Identifier: GPL-2.0
/* tracectl template: fentry (BPF trampoline at function entry); argument i is ctx[i] */
#include "capture.h"

SEC("fentry")
int tracectl_fentry(__u64 *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	tc_fill_btf(ctx, s, 0);
	return tc_finish(ctx, s);
}
