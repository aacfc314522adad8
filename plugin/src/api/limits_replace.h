/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rate limits at run time (the ABI's set_limits and limits_json).  The
 * limits in force live in net->cfg.limits under net->limits_lock; the stack
 * thread owns the token buckets built from them and takes a new set on its
 * next wake (the owner's take_limits), keeping the tokens it holds.
 */
#ifndef MSB_LIMITS_REPLACE_H
#define MSB_LIMITS_REPLACE_H

#include <stdbool.h>
#include <stddef.h>

struct msbnet;
struct msb_limits;

/* TEXT is a "limits" object (model/limits_config.h); it replaces every
 * kind (a kind left out becomes unlimited).  MSBNET_OK, or MSBNET_EINVAL /
 * MSBNET_ENOMEM with a reason in err, and nothing changes. */
int msb_limits_replace(struct msbnet *net, const char *text, char *err, size_t errlen);

/* The limits in force as compact JSON (malloc'd), NULL on allocation failure. */
char *msb_limits_current_json(struct msbnet *net);

/* Stack thread: the limits into *out when they changed since the last
 * take, or always when ALWAYS (at start).  True when *out was written. */
bool msb_limits_take(struct msbnet *net, struct msb_limits *out, bool always);

#endif
