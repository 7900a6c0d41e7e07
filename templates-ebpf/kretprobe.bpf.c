// SPDX-License-Identifier: GPL-2.0
/* tracectl template: kretprobe; the return value from registers */
#include "capture.h"

SEC("kretprobe")
int tracectl_kret(struct pt_regs *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	tc_fill_rc(ctx, s);
	return tc_finish(ctx, s);
}
