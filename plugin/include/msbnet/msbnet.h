/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msbnet.h — the C ABI of libmsbnet.so, the user-mode network stack for one
 * microVM sandbox.
 *
 * How a VMM uses it:
 *
 *   void *so = dlopen("libmsbnet.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
 *   msbnet_get_api_fn get = (msbnet_get_api_fn)dlsym(so, MSBNET_ENTRY_POINT);
 *   char err[256];
 *   const struct msbnet_api_v1 *api = get(MSBNET_ABI_VERSION, err, sizeof err);
 *   msbnet_t *net = api->create("{\"slot\": 3}", err, sizeof err);
 *
 *   api->set_gateways(net, "100.96.0.13", "fd42:6d73:62:3::1"); // from addresses_json()
 *   api->start(net, err, sizeof err);
 *   ... pump frames (below) ...
 *   api->destroy(net);   // joins the stack thread: no plugin code runs after it
 *
 * Load it with RTLD_NODELETE (or never dlclose it): lwIP inside is a
 * process-wide singleton set up once and kept for a later start, so
 * unmapping the library would orphan that state, and loading it again
 * would set up a second copy.
 *
 * A complete worker is plugin/examples/vmm_tap.c (installed under
 * share/doc/msbnet/examples); build with `pkg-config --cflags msbnet` and
 * find the file to dlopen with `pkg-config --variable=plugin msbnet`.
 *
 * ABI versioning
 *   Only the entry point is exported by name; everything else is reached
 *   through the table, so a plugin can serve several ABI versions side by
 *   side and a VMM built against version N refuses a plugin that cannot
 *   serve N (msbnet_get_api returns NULL with a reason).  Within a version,
 *   fields are only appended to the table: check struct_size before using
 *   a field this header has and an older plugin may not.  Error codes and
 *   constants below never change meaning within a version.  The shared
 *   object's soname (libmsbnet.so.1) changes only with an incompatible ABI.
 *
 * Frame format
 *   Plain Ethernet II frames (destination MAC first), no FCS, no VLAN tags
 *   (a tagged frame is dropped and counted), one frame per call.  Queue
 *   names follow the guest's view: "tx" is what the guest transmits (VMM ->
 *   plugin, write_frame), "rx" is what the guest receives (read_frame).
 *   Frames for the guest are at most 14 + the configured MTU bytes and
 *   always carry complete IP and L4 checksums.
 *
 *   With the config key "vnet_hdr": true, every frame in both directions
 *   starts with a MSBNET_VNET_HDR_LEN (12) byte struct virtio_net_hdr_v1,
 *   little-endian, exactly as a virtio-net device or a TAP opened with
 *   IFF_VNET_HDR + TUNSETVNETHDRSZ 12 exchanges them:
 *     - written frames may set VIRTIO_NET_HDR_F_NEEDS_CSUM (the plugin
 *       completes the checksum at csum_start + csum_offset) and a GSO type
 *       TCPV4 / TCPV6 (ECN bit allowed) or UDP_L4 with gso_size: the
 *       super-frame (up to MSBNET_MAX_GSO_FRAME bytes after the header) is
 *       handled as the guest meant it: a TCP one is given to the stack as
 *       one segment ("vnet_gso": "whole", the default) or cut into
 *       gso_size-payload segments with their own lengths, ids, sequence
 *       numbers and checksums ("segment"; always for UDP_L4).  The write is
 *       one ring slot either way.  So a VMM can offer the guest the
 *       device features VIRTIO_NET_F_CSUM, HOST_TSO4, HOST_TSO6, HOST_ECN
 *       and HOST_USO.  GSO_UDP (UFO, IP fragments) is not supported
 *       (dropped, counted); DATA_VALID, hdr_len (a hint: headers are read
 *       from the frame) and num_buffers are ignored.
 *     - malformed headers (shorter than 12 bytes, checksum field outside
 *       the frame, gso_size 0, headers contradicting the GSO type) make
 *       write_frame return MSBNET_EINVAL, counted by reason (drops.vnet_*).
 *     - read frames get an all-zero header (no flags, GSO_NONE): checksums
 *       are complete and each frame is at most the MTU, so the VMM offers
 *       the guest no GUEST_CSUM/GUEST_TSO features on their account.  A VMM
 *       using VIRTIO_NET_F_MRG_RXBUF sets num_buffers itself.
 *     - with the config key "vnet_guest_tso": true (for a VMM that
 *       negotiated GUEST_CSUM + GUEST_TSO4 + GUEST_TSO6 with the guest),
 *       TCP data may instead come as one super-frame of up to
 *       MSBNET_MAX_GSO_FRAME bytes: NEEDS_CSUM (csum_start/csum_offset
 *       point at the TCP checksum, which holds the pseudo-header sum),
 *       gso_type TCPV4/TCPV6, gso_size, hdr_len = every header.
 *   A buffer of MSBNET_MAX_VNET_FRAME bytes fits any frame in either mode.
 *
 * Threading
 *   Every function may be called from any thread, with these rules:
 *   write_frame may be called by several threads at once; read_frame is
 *   meant for one reader at a time (the VMM's network worker); start and
 *   stop are serialised internally; destroy must not overlap any other call
 *   on the same instance (join your worker first).  No function blocks on
 *   network I/O; none aborts the process on bad input (they return MSBNET_E*
 *   codes instead).  The plugin runs one internal thread per started
 *   instance (the stack thread) and calls back into the VMM only through
 *   the termination hook.  One started instance per process (lwIP is a
 *   process-wide singleton).  Block the VMM's signals before start() if the
 *   stack thread must not receive them: it inherits the caller's mask.
 *
 * The pump (what a network worker does)
 *   guest -> plugin: offer each frame with write_frame.  MSBNET_WRITTEN:
 *   done.  MSBNET_NOTHING_WRITTEN: the tx ring is full; keep the frame, stop
 *   reading the guest's queue and offer it again after a short delay (there
 *   is no "room" wake for writers; 1 ms doubling to ~30 ms works well).  Any
 *   negative code: the frame is refused for good (already counted).
 *   plugin -> guest: when rx_wake_fd() is readable, call read_frame until
 *   it returns 0 (or until a batch is done: the fd stays readable while
 *   frames wait).  MSBNET_ENOSPC leaves the frame queued and reports its
 *   length in *needed.  If the guest cannot take a frame now, keep it and
 *   stop polling the wake fd until it can: frames wait in the plugin's rx
 *   ring, and the stack slows its TCP senders instead of dropping.
 *   A VMM whose guest frames come and go on a file descriptor (a TAP, a
 *   datagram socket) can skip the pump: set_frame_fds hands the fds to the
 *   stack thread, which then moves the frames itself (fewer wake-ups).
 *
 * Ownership
 *   Frames passed to write_frame stay the caller's (copied before return);
 *   read_frame copies into the caller's buffer.  The instance, the wake fd
 *   and every string the plugin returns belong to the plugin: JSON strings
 *   are released with api->free_string(), never free(); the wake fd is
 *   never closed by the caller; configuration and address strings passed
 *   in are copied and may be freed when the call returns.
 *
 * Errors: functions return 0 or a positive count on success and a negative
 * enum msbnet_error on failure; create() and start() also write a one-line
 * reason into the caller's buffer.
 */
#ifndef MSBNET_MSBNET_H
#define MSBNET_MSBNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version served by this header.  Bumped on any incompatible change. */
#define MSBNET_ABI_VERSION 1u

/* Name of the one exported symbol, for dlsym(). */
#define MSBNET_ENTRY_POINT "msbnet_get_api"

/* Error codes: functions return 0 or a positive count on success and one of
 * these (negative) on failure. */
enum msbnet_error {
    MSBNET_OK = 0,
    MSBNET_EINVAL = -1,   /* bad argument (NULL, malformed address, bad length) */
    MSBNET_ENOSPC = -2,   /* caller's buffer too small; nothing was consumed */
    MSBNET_EEXIST = -3,   /* value already set to something different */
    MSBNET_ENOMEM = -4,   /* allocation failed */
    MSBNET_ESTATE = -5,   /* call not valid in the instance's current state */
    MSBNET_ESYS = -6,     /* operating-system call failed (see errno) */
};

/* Largest frame accepted or produced: 14-byte Ethernet header + MTU 65520 +
 * room for a VLAN tag.  Frames above this are refused with MSBNET_EINVAL. */
#define MSBNET_MAX_FRAME 65538u

/* Smallest frame accepted: an Ethernet header. */
#define MSBNET_MIN_FRAME 14u

/*
 * virtio-net header mode (config key "vnet_hdr": true; see "Frame format"
 * above).  Each frame both ways is preceded by this many bytes: a
 * struct virtio_net_hdr_v1 (the layout of Linux <linux/virtio_net.h> and of
 * a TAP opened with IFF_VNET_HDR after TUNSETVNETHDRSZ 12).
 */
#define MSBNET_VNET_HDR_LEN 12u

/* Largest GSO super-frame accepted behind a virtio-net header: Ethernet +
 * IPv6 header + a full 16-bit payload length (IPv4 super-frames are
 * smaller).  Frames without a GSO type stay bounded by MSBNET_MAX_FRAME. */
#define MSBNET_MAX_GSO_FRAME (14u + 40u + 65535u)

/* Largest write_frame() length in vnet_hdr mode, and a buffer size that
 * suffices for read_frame() in either mode. */
#define MSBNET_MAX_VNET_FRAME (MSBNET_VNET_HDR_LEN + MSBNET_MAX_GSO_FRAME)

typedef struct msbnet msbnet_t;

/*
 * Termination hook: called when a fatal policy violation asks for the
 * sandbox to be stopped.  `reason` is a JSON object valid only during the
 * call, with the members below.  It runs on whichever thread detected the
 * violation, outside every plugin lock, so it may call back into the API;
 * it must not block for long.
 */
#define MSBNET_REASON_KIND "reason"          /* "policy_terminate" or "secret_violation" */
#define MSBNET_REASON_RULE "rule"            /* index of the rule (a number) */
#define MSBNET_REASON_DIRECTION "direction"  /* "egress" or "ingress" */
#define MSBNET_REASON_PROTOCOL "protocol"    /* "tcp", "udp", "icmpv4", "icmpv6", "dns" */
/* From the first sender to the receiver: "tcp 100.96.0.2:40000 -> 198.18.0.1:443"
 * ("[v6]:port" for IPv6, no ports for ICMP; for DNS the query's flow). */
#define MSBNET_REASON_FLOW "flow"
#define MSBNET_REASON_NAME "name"            /* DNS: the query name (only then) */
/* "secret_violation" (a secret's on_violation is block-and-terminate):
 * "secret" is its env name (never the value), "name" the TLS SNI, and
 * "flow" as above; no rule or direction. */
#define MSBNET_REASON_SECRET "secret"
typedef void (*msbnet_termination_fn)(void *user, const char *reason);

/* What query_hostnames() selects. */
enum msbnet_query_kind {
    MSBNET_QUERY_ALL = 0,      /* every live entry */
    MSBNET_QUERY_ADDRESS = 1,  /* entries whose address set holds `key` (an IP literal) */
    MSBNET_QUERY_HOSTNAME = 2, /* entries for hostname `key` (normalised like the index) */
};

/* Result of write_frame(). */
#define MSBNET_WRITTEN 1        /* frame copied into the tx ring */
#define MSBNET_NOTHING_WRITTEN 0 /* ring full: keep the frame and retry after a wake */

struct msbnet_api_v1 {
    /* Always MSBNET_ABI_VERSION (1) and the table's size in this build.
     * Within version 1 fields are only ever appended, so a caller compiled
     * against a newer header checks struct_size before using a later field. */
    uint32_t abi_version;
    uint32_t struct_size;

    /* Plugin release, e.g. "0.1.0".  Static storage. */
    const char *(*version)(void);

    /*
     * Create an instance from a JSON object of settings (NULL or "" = all
     * defaults; keys documented in plugin/README.md).  On failure returns
     * NULL and writes a one-line reason into err (always NUL-terminated when
     * errlen > 0), naming the offending key for unknown keys, wrong types
     * and out-of-range values.
     */
    msbnet_t *(*create)(const char *config_json, char *err, size_t errlen);

    /* Stop everything and free the instance.  NULL is ignored.  No other
     * call may be running on the instance or start after this begins. */
    void (*destroy)(msbnet_t *net);

    /*
     * Offer one guest frame.  Returns MSBNET_WRITTEN when copied (the caller
     * keeps ownership of `frame`), MSBNET_NOTHING_WRITTEN when the tx ring is
     * full (backpressure: retry later; nothing is counted), or MSBNET_EINVAL
     * for a NULL instance/frame or a length outside
     * [MSBNET_MIN_FRAME, MSBNET_MAX_FRAME] (counted as a drop).  In
     * "vnet_hdr" mode `frame` starts with the 12-byte header, len counts
     * it, a GSO super-frame may reach MSBNET_MAX_VNET_FRAME, and a
     * malformed header is MSBNET_EINVAL too (counted by reason);
     * MSBNET_ENOMEM when the copy cannot be allocated (counted).
     */
    int (*write_frame)(msbnet_t *net, const uint8_t *frame, size_t len);

    /*
     * Take one frame for the guest.  Returns its length (> 0), 0 when none is
     * waiting, or MSBNET_ENOSPC when the next frame is longer than cap: the
     * frame stays queued, and *needed (if not NULL) receives its length.
     * Call after the rx wake fd becomes readable, until it returns 0.  In
     * "vnet_hdr" mode the returned length (and *needed) include the zeroed
     * 12-byte header written at buf[0].
     */
    long (*read_frame)(msbnet_t *net, uint8_t *buf, size_t cap, size_t *needed);

    /*
     * A file descriptor that becomes readable when frames for the guest are
     * waiting.  Owned by the plugin; poll it, never close it.  read_frame()
     * drains it, so the fd cannot fill up and a wake is never lost when the
     * reader pops until 0 after each wake.
     */
    int (*rx_wake_fd)(msbnet_t *net);

    /*
     * Set the gateway addresses (textual IPv4 / IPv6; either may be NULL to
     * leave that family alone).  Each family is set at most once: a repeat of
     * the same value returns MSBNET_OK, a different value MSBNET_EEXIST, a
     * malformed or wrong-family address MSBNET_EINVAL.  Nothing is changed
     * unless the whole call succeeds.
     */
    int (*set_gateways)(msbnet_t *net, const char *ipv4, const char *ipv6);

    /*
     * Install (fn != NULL) or remove (fn == NULL) the termination hook.  When
     * this returns, the previous hook is no longer running on another thread
     * and will not be called again (unless it is called from inside the hook
     * itself, in which case the hook's own call continues to its end).
     */
    int (*set_termination_hook)(msbnet_t *net, msbnet_termination_fn fn, void *user);

    /*
     * Query the resolved-hostname index.  Writes a JSON document into *out
     * (free with free_string):
     *   {"total": N, "entries": [{"hostname": "...", "family": "ipv4",
     *     "addresses": ["..."], "ttl_remaining_ms": T}, ...]}
     * `total` counts every match; entries holds at most `limit` of them
     * (0 = no limit) starting at `offset`, in a stable order (hostname,
     * family), so a caller can page.  For MSBNET_QUERY_ADDRESS `key` must be
     * an IP literal (else MSBNET_EINVAL).
     */
    int (*query_hostnames)(msbnet_t *net, enum msbnet_query_kind kind, const char *key,
                           size_t offset, size_t limit, char **out);

    /* A JSON snapshot of every counter and gauge (plugin/README.md,
     * "Metrics JSON").  Returns NULL on allocation failure.  Free with
     * free_string. */
    char *(*metrics_json)(msbnet_t *net);

    /* Release a string returned by the plugin.  NULL is ignored. */
    void (*free_string)(char *s);

    /* How many times the termination hook has been triggered on this
     * instance (including triggers while no hook was installed). */
    uint64_t (*termination_count)(msbnet_t *net);

    /*
     * Start the stack thread: from here on, frames written are processed and
     * frames for the guest appear.  Only one started instance per process
     * (lwIP is a process-wide singleton): a second start anywhere in the
     * process fails with MSBNET_ESTATE.  Returns 0 or an error with a reason
     * in err.
     */
    int (*start)(msbnet_t *net, char *err, size_t errlen);

    /* Stop the stack thread: every flow is closed (RST to both sides).
     * Frames still queued stay queued.  Idempotent; destroy() implies it. */
    void (*stop)(msbnet_t *net);

    /*
     * The guest-facing addressing as JSON (free with free_string), so the
     * VMM or msbnetd can configure the guest:
     *   {"gateway_mac": "02:6d:73:00:03:01", "guest_mac": "...:02",
     *    "gateway_ipv4": "100.96.0.13", "guest_ipv4": "100.96.0.14",
     *    "prefix_ipv4": 30, "gateway_ipv6": "fd42:6d73:62:3::1",
     *    "guest_ipv6": "fd42:6d73:62:3::2", "prefix_ipv6": 64, "mtu": 1500}
     * Gateways listed here are not active until set_gateways() sets them.
     */
    char *(*addresses_json)(msbnet_t *net);

    /*
     * Replace the policy at run time.  `policy` is a JSON policy object (its
     * first non-space character is '{'; the format of the "policy" config
     * key) or a comma list of rule tokens
     * `<action>[:<direction>]@<target>[:<proto>[:<ports>]]`, which get
     * default_egress deny and default_ingress allow and no implicit rules
     * (as the original CLI assembles --net-rule lists: add
     * `allow@host:udp:53` for DNS).  On success returns MSBNET_OK; when
     * warnings_json is not NULL it receives a JSON array of shadowed-rule
     * warnings (strings; free with free_string).  New flows are judged by
     * the new policy as soon as this returns; open flows it denies are reset
     * on the stack thread right after (metric policy.flows_reset).  On error
     * returns MSBNET_EINVAL with the parser's message in err (or
     * MSBNET_ENOMEM) and nothing changes.
     */
    int (*set_policy)(msbnet_t *net, const char *policy, char **warnings_json, char *err,
                      size_t errlen);

    /* The current policy as a JSON policy object (every field written);
     * free with free_string.  NULL on allocation failure. */
    char *(*policy_json)(msbnet_t *net);

    /*
     * Published ports (ingress), at run time; the config key "publish" takes
     * a list of the same objects at create.  spec_json is one object:
     *   {"protocol": "tcp", "host_address": "127.0.0.1", "host_port": 8080,
     *    "guest_port": 80, "real_peer": false}
     * (protocol, host_address and real_peer optional; plugin/README.md).  The
     * host socket is bound before the call returns: MSBNET_OK, MSBNET_EINVAL
     * (bad spec), MSBNET_EEXIST (that host port is published already) or
     * MSBNET_ESYS (bind/listen failed), with a reason in err.  Callable from
     * any thread, started or not.
     */
    int (*publish_port)(msbnet_t *net, const char *spec_json, char *err, size_t errlen);

    /*
     * Stop forwarding the host port named by spec_json's protocol,
     * host_address and host_port (guest_port may be left out).  New peers
     * are refused from the moment this returns; connections already
     * forwarded stay up.  MSBNET_EINVAL when nothing is published there.
     */
    int (*unpublish_port)(msbnet_t *net, const char *spec_json, char *err, size_t errlen);

    /*
     * Direct frame descriptors: let the stack thread move frames itself,
     * with no worker thread and no wake-up between it and the guest (what
     * msbnetd does with its TAP).  Check struct_size before use.
     *   tx_fd (guest -> plugin): the stack thread read()s it when readable,
     *     one whole frame per read (a TAP, a datagram or seqpacket socket),
     *     in the format write_frame takes (vnet_hdr included when on).
     *     A read error or end of file stops the reading for good (counted
     *     as drops.tx_fd_error).  write_frame keeps working alongside.
     *   rx_fd (plugin -> guest): every frame for the guest is written to it
     *     with one writev, in the format read_frame returns.  When the fd
     *     would block, frames wait in the rx ring (the stack slows its TCP
     *     senders as with a slow reader) and go out, in order, once it is
     *     writable.  A write error drops that frame (drops.rx_fd_error), as
     *     a wire would.  read_frame then always returns 0 and the rx wake fd
     *     stays silent.
     * Pass -1 for a direction to keep it on write_frame / read_frame.  The
     * fds stay the caller's: the plugin sets O_NONBLOCK on them and never
     * closes them; keep them open until stop() or destroy() returns.  Only
     * while stopped: MSBNET_ESTATE when started, MSBNET_EINVAL for a NULL
     * instance or a negative fd other than -1.
     */
    int (*set_frame_fds)(msbnet_t *net, int tx_fd, int rx_fd);

    /*
     * TLS interception (config key "tls"; check struct_size before use).
     * The sandbox CA's certificate as PEM into *pem (free with
     * free_string), for the VMM to install in the guest's trust store: the
     * CA is generated (or the configured one loaded) by the first start()
     * and kept until destroy().  Its key is never handed out.  MSBNET_OK;
     * MSBNET_ESTATE when "tls" "intercept" is off or the instance has not
     * been started yet; MSBNET_EINVAL for NULL arguments; MSBNET_ENOMEM.
     */
    int (*ca_certificate)(msbnet_t *net, char **pem);

    /*
     * The configured secrets as JSON (free with free_string), NULL on
     * allocation failure; check struct_size before use:
     *   {"intercept": true, "scan_plaintext": false, "secrets": [{"env":
     *    "OPENAI_API_KEY", "hosts": ["api.openai.com"], "inject":
     *    ["headers", "basic_auth"], "on_violation": "block", "placeholder":
     *    "...", "placeholder_generated": true, "substitutions": 0,
     *    "violations": 0}]}
     * Never a value.  The placeholder is what the guest is given instead
     * of the value (random per instance unless configured).
     */
    char *(*secrets_json)(msbnet_t *net);

    /*
     * Rate limits (config key "limits"; check struct_size before use).
     * set_limits replaces them all with limits_json, a "limits" object:
     *   {"egress": {"rate": "50mbit", "burst": "256KiB"},
     *    "ingress": {"rate": 6250000}, "connections": {"rate": 100},
     *    "dns_queries": {"rate": 50}}
     * (a kind left out is unlimited; "{}" lifts every limit).  They apply
     * from the stack's next decision; tokens already held are kept.
     * Callable from any thread, started or not.  MSBNET_OK, or
     * MSBNET_EINVAL with the reason in err and nothing changed.
     */
    int (*set_limits)(msbnet_t *net, const char *limits_json, char *err, size_t errlen);

    /* The limits in force as that object (rates and bursts in bytes or
     * events, bursts as in force); free with free_string.  NULL on
     * allocation failure. */
    char *(*limits_json)(msbnet_t *net);

    /*
     * The published ports as a JSON array (free with free_string), oldest
     * first, each the object publish_port takes with every key written:
     *   [{"protocol": "tcp", "host_address": "127.0.0.1", "host_port": 8080,
     *     "guest_port": 80, "real_peer": false}]
     * A port is listed from publish_port's return until unpublish_port's.
     * NULL for a NULL instance or on allocation failure; check struct_size
     * before use.
     */
    char *(*published_ports_json)(msbnet_t *net);

    /*
     * Flow records (check struct_size before use): one per ended or
     * refused flow (TCP connections, UDP sessions, echoes, refusals, DNS
     * query names), kept in a bounded ring on the stack thread; when
     * nobody drains it, new records are dropped and counted (metrics
     * "flow_records.dropped").  Takes up to max records (0 = all waiting)
     * into *out as JSON lines, oldest first, each ending in '\n' (free
     * with free_string; "" when none waits); schema in plugin/README.md
     * ("Flow records").  Returns the number taken, MSBNET_EINVAL for NULL
     * arguments, MSBNET_ENOMEM.  Any thread; concurrent callers each get
     * distinct records.
     */
    long (*drain_flow_records)(msbnet_t *net, size_t max, char **out);

    /*
     * The live flow table (check struct_size before use): the open flows
     * (TCP connections, UDP sessions relayed and published, outstanding
     * ICMP echoes) as {"total": N, "offset": O, "flows": [...]} (free with
     * free_string), each flow a flow record object (plugin/README.md "Flow
     * records") with "end" "open", "closed_unix_ms" 0 and its byte counts
     * so far.  protocol NULL or "" takes every flow, "tcp", "udp" or
     * "icmp" only the flows of that protocol, filtered before paging: the
     * page holds flows offset .. offset+limit-1 of that set in the stack's
     * order (limit 0 or over 1000: 1000) and total counts the whole set.
     * Stopped: total 0.  Returns the number of flows in *out, MSBNET_EINVAL
     * for NULL net or out or another protocol, MSBNET_ENOMEM, or
     * MSBNET_ESTATE when the stack did not answer within 2 s.  Any thread
     * but a hook's (the stack thread answers it).
     */
    long (*flows_json)(msbnet_t *net, size_t offset, size_t limit, const char *protocol,
                       char **out);

    /*
     * Secrets replaced at run time (check struct_size before use).
     * secrets_json is a "secrets" list, the config key's schema checked as
     * strictly.  Connections made from the stack's next wake use the new
     * set; open ones keep the secrets they started with.  An entry without
     * "placeholder" keeps the placeholder its env had (the guest holds it);
     * a secret left out is removed, its placeholder kept as a violation
     * wherever it is sent (secrets_json lists it with "removed": true).
     * Callable from any thread, started or not.  MSBNET_OK; MSBNET_ESTATE
     * when "tls" "intercept" is off; MSBNET_EINVAL with the reason in err
     * (naming the entry by index and env, never a value) and nothing
     * changed; MSBNET_ENOMEM.  The values parsed are wiped; wipe your copy
     * of secrets_json yourself.
     */
    int (*set_secrets)(msbnet_t *net, const char *secrets_json, char *err, size_t errlen);
};

/*
 * The exported entry point.  Returns the function table for `abi_version`,
 * or NULL with a reason in err when that version is not served.
 */
typedef const struct msbnet_api_v1 *(*msbnet_get_api_fn)(uint32_t abi_version, char *err,
                                                         size_t errlen);

const struct msbnet_api_v1 *msbnet_get_api(uint32_t abi_version, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* MSBNET_MSBNET_H */
