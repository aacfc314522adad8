/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replacing an instance's policy at run time (the ABI's set_policy and
 * policy_json).  The stack thread reads net->policy without a lock on every
 * decision, so while the stack runs only the stack thread may change it: a
 * caller parks the new policy in a pending slot and wakes the stack, which
 * swaps it in between two frames, frees the old one and resets the flows the
 * new policy denies.  While no stack runs the caller swaps directly.
 * net->policy_lock guards the pending slot, the "stack is live" flag and
 * every read of net->policy from a thread other than the stack's.
 */
#ifndef MSB_POLICY_REPLACE_H
#define MSB_POLICY_REPLACE_H

#include <stdbool.h>
#include <stddef.h>

struct msbnet;
struct msb_policy;

/* The ABI's set_policy: 0 (MSBNET_OK) or MSBNET_EINVAL / MSBNET_ENOMEM with
 * a reason in err; nothing changes on error.  *warnings_json (when asked
 * for) receives a JSON array of shadow-warning strings. */
int msb_policy_replace(struct msbnet *net, const char *text, char **warnings_json, char *err,
                       size_t errlen);

/* The current policy as compact JSON (malloc'd), NULL on allocation
 * failure.  A policy still pending counts as current: it judges every
 * frame the stack reads from now on. */
char *msb_policy_current_json(struct msbnet *net);

/* Rules in the current policy (for the metrics snapshot). */
size_t msb_policy_rule_count(struct msbnet *net);

/* Stack thread: swaps in a pending policy, if any, and frees the old one.
 * True when a swap happened (the caller then re-evaluates its flows). */
bool msb_policy_take_pending(struct msbnet *net);

/* The instance's start/stop bracket the stack's ownership of net->policy:
 * live = true before the thread starts; false after it is joined (which
 * also applies a policy left pending). */
void msb_policy_set_stack_live(struct msbnet *net, bool live);

#endif
