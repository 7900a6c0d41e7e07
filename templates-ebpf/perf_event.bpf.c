// SPDX-License-Identifier: GPL-2.0
/* tracectl template: perf event sample (`profile:hz:N`); no arguments, the
 * builtins are the interrupted task's and the stacks are walked from the
 * sample's registers */
#include "capture.h"

SEC("perf_event")
int tracectl_pe(void *ctx)
{
	struct tc_scratch *s = tc_begin();

	if (!s)
		return 0;
	return tc_finish(ctx, s);
}
