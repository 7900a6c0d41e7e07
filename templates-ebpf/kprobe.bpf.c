// SPDX-License-Identifier: GPL-2.0
/* tracectl template: kprobe at function entry; arguments from registers */
#include "capture.h"

SEC("kprobe")
int tracectl_kprobe(struct pt_regs *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	tc_fill_regs(ctx, s);
	return tc_finish(ctx, s);
}
