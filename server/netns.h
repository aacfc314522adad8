/* Network (and user/mount) namespaces: entering an existing one for a
 * moment, and making fresh ones for `run`. */
#ifndef MSBD_NETNS_H
#define MSBD_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Moves the calling thread into the netns at path (e.g. /var/run/netns/G);
 * *orig receives an fd of the namespace it was in.  Returns 0 or -1 with a
 * reason in err. */
int msbd_netns_enter(const char *path, int *orig, char *err, size_t errlen);

/* Back to orig (and closes it).  Failing here would leave the process in the
 * guest's namespace where host sockets must never be opened: callers abort
 * the whole run on error. */
int msbd_netns_leave(int orig, char *err, size_t errlen);

/* New network + mount namespaces for the calling process.  When not root
 * (outer_uid != 0) a user namespace comes first, mapping outer_uid/gid to
 * root inside so the process may configure its network. */
int msbd_netns_unshare(uid_t outer_uid, gid_t outer_gid, char *err, size_t errlen);

#endif
