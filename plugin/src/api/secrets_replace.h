/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets replaced at run time (the ABI's set_secrets).  The new list is
 * parsed with the config key's rules, completed against the current
 * generation (placeholders kept per env, removed secrets left as
 * tombstones: tls/secret_gen.h) and becomes the instance's current
 * generation at once (secrets_json shows it); the stack thread hands it to
 * the engine on its next wake, so connections made from then on use it
 * and open ones finish with theirs.
 */
#ifndef MSB_SECRETS_REPLACE_H
#define MSB_SECRETS_REPLACE_H

#include <stddef.h>

struct msbnet;

/* TEXT is a "secrets" list.  MSBNET_OK; MSBNET_ESTATE when interception is
 * off; MSBNET_EINVAL with a message naming the entry by index and env
 * (never a value); MSBNET_ENOMEM.  Values parsed from TEXT are wiped;
 * TEXT itself is the caller's to wipe. */
int msb_secrets_replace(struct msbnet *net, const char *text, char *err, size_t errlen);

/* Stack thread: a generation set since the last take handed to the
 * engine's context. */
void msb_secrets_take(struct msbnet *net);

#endif
