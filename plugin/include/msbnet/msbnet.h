/*
 * msbnet.h — the C ABI of libmsbnet.so, the user-mode network stack for one
 * microVM sandbox.
 *
 * How a VMM uses it:
 *
 *   void *so = dlopen("libmsbnet.so", RTLD_NOW | RTLD_LOCAL);
 *   msbnet_get_api_fn get = (msbnet_get_api_fn)dlsym(so, MSBNET_ENTRY_POINT);
 *   char err[256];
 *   const struct msbnet_api_v1 *api = get(MSBNET_ABI_VERSION, err, sizeof err);
 *   msbnet_t *net = api->create("{\"slot\": 3}", err, sizeof err);
 *
 * Only the entry point is exported by name; everything else is reached
 * through the table, so a plugin can serve several ABI versions side by side
 * and a VMM built against version N refuses a plugin that cannot serve N.
 *
 * Frames: plain Ethernet II frames (destination MAC first), no virtio-net
 * header, no FCS.  Queue names follow the guest's view: "tx" is what the
 * guest transmits (VMM -> plugin), "rx" is what the guest receives.
 *
 * Threading: every function may be called from any thread.  write_frame may
 * be called by several threads at once; read_frame is meant for one reader
 * (the VMM's network worker).  No function blocks on network I/O and none
 * aborts the process on bad input: they return MSBNET_E* codes instead.
 *
 * Strings returned by the plugin (JSON documents) are heap-allocated by the
 * plugin and must be released with api->free_string().
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

typedef struct msbnet msbnet_t;

/*
 * Termination hook: called when a fatal policy violation asks for the
 * sandbox to be stopped.  `reason` is a JSON object (rule, flow, time) valid
 * only during the call.  It runs on whichever thread detected the violation,
 * outside every plugin lock, so it may call back into the API; it must not
 * block for long.
 */
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
     * defaults; keys documented in the README).  On failure returns NULL and
     * writes a one-line reason into err (always NUL-terminated when
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
     * [MSBNET_MIN_FRAME, MSBNET_MAX_FRAME] (counted as a drop).
     */
    int (*write_frame)(msbnet_t *net, const uint8_t *frame, size_t len);

    /*
     * Take one frame for the guest.  Returns its length (> 0), 0 when none is
     * waiting, or MSBNET_ENOSPC when the next frame is longer than cap: the
     * frame stays queued, and *needed (if not NULL) receives its length.
     * Call after the rx wake fd becomes readable, until it returns 0.
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

    /* A JSON snapshot of every counter and gauge (see README, "Metrics").
     * Returns NULL on allocation failure.  Free with free_string. */
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
