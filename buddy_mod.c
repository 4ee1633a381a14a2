// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the module lands: links the core. */
#include <linux/module.h>
#include "buddy_core.h"

static int __init buddy_init(void)
{
	return 0;
}
module_init(buddy_init);

static void __exit buddy_exit(void)
{
}
module_exit(buddy_exit);

MODULE_DESCRIPTION("Buddy allocator over a physically contiguous pool");
MODULE_LICENSE("GPL");
