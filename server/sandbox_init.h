/* SPDX-License-Identifier: Apache-2.0 */
/* The init of a `run` sandbox's pid namespace (sandbox_init.c). */
#ifndef MSBD_SANDBOX_INIT_H
#define MSBD_SANDBOX_INIT_H

/* Called by the setup child after msbd_ns_sandbox, with INT/TERM/HUP still
 * blocked: starts pid 1 of the new pid namespace, which runs cmd as pid 2,
 * and exits with cmd's status (128+N when killed by signal N).  Never
 * returns. */
void msbd_sandbox_exec(char **cmd) __attribute__((noreturn));

/* argv[0] of the sandbox's pid 1: main() hands such a process here. */
#define MSBD_INIT_NAME "msbnetd-init"

/* pid 1's work after its exec: runs cmd as pid 2 and returns its status. */
int msbd_sandbox_init_main(char **cmd);

#endif
