#include "config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum field_kind { F_UINT, F_POW2, F_CHOICE };

struct field {
    const char *key;
    enum field_kind kind;
    size_t offset;
    uint32_t min, max;
    const char *const *choices; /* F_CHOICE: NULL-terminated, stored as index */
};

static const char *const wake_choices[] = {"auto", "pipe", NULL};

#define AT(member) offsetof(struct msb_config, member)
static const struct field fields[] = {
    {"queue_capacity", F_POW2, AT(queue_capacity), 2, 65536, NULL},
    {"slot", F_UINT, AT(slot), 0, 65535, NULL},
    {"mtu", F_UINT, AT(mtu), 576, 65520, NULL},
    {"hostname_index_max_entries", F_UINT, AT(hostname_index_max_entries), 1, 1u << 22, NULL},
    {"hostname_index_max_ttl_s", F_UINT, AT(hostname_index_max_ttl_s), 1, 366u * 86400u, NULL},
    {"wake", F_CHOICE, AT(wake), 0, 0, wake_choices},
};
#undef AT

void msb_config_defaults(struct msb_config *c)
{
    memset(c, 0, sizeof *c);
    c->queue_capacity = 1024;
    c->slot = 0;
    c->mtu = 1500;
    c->hostname_index_max_entries = 65536;
    c->hostname_index_max_ttl_s = 86400;
    c->wake = MSB_WAKE_AUTO;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const struct field *find_field(const char *key)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

static int set_uint(const struct field *f, json_t *v, struct msb_config *c, char *err, size_t errlen)
{
    if (!json_is_integer(v))
        return fail(err, errlen, "config: key \"%s\" must be an integer", f->key);
    json_int_t n = json_integer_value(v);
    if (n < (json_int_t)f->min || n > (json_int_t)f->max)
        return fail(err, errlen, "config: key \"%s\" = %lld is out of range %u..%u", f->key,
                    (long long)n, f->min, f->max);
    if (f->kind == F_POW2 && (n & (n - 1)) != 0)
        return fail(err, errlen, "config: key \"%s\" = %lld must be a power of two", f->key,
                    (long long)n);
    *(uint32_t *)((char *)c + f->offset) = (uint32_t)n;
    return 0;
}

static int set_choice(const struct field *f, json_t *v, struct msb_config *c, char *err,
                      size_t errlen)
{
    const char *s = json_string_value(v);
    for (int i = 0; s && f->choices[i]; i++) {
        if (strcmp(s, f->choices[i]) == 0) {
            *(uint32_t *)((char *)c + f->offset) = (uint32_t)i;
            return 0;
        }
    }
    char list[128] = "";
    for (int i = 0; f->choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, f->choices[i], sizeof list - strlen(list) - 1);
    }
    return fail(err, errlen, "config: key \"%s\" must be one of: %s", f->key, list);
}

int msb_config_parse(const char *json, struct msb_config *c, char *err, size_t errlen)
{
    msb_config_defaults(c);
    if (!json || !*json)
        return 0;
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fail(err, errlen, "config: invalid JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = fail(err, errlen, "config: expected a JSON object");
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            const struct field *f = find_field(key);
            if (!f)
                rc = fail(err, errlen, "config: unknown key \"%s\"", key);
            else if (f->kind == F_CHOICE)
                rc = set_choice(f, v, c, err, errlen);
            else
                rc = set_uint(f, v, c, err, errlen);
            if (rc)
                break;
        }
    }
    json_decref(root);
    return rc;
}
