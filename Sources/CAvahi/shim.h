// libavahi-client (Debian: libavahi-client-dev; pkg-config avahi-client) for Hearsay.
//
// The library is opened with dlopen() when the node wants mDNS, not linked: a node with
// `--mdns off` (overlay and benchmark nodes, servers without Avahi) maps none of Avahi, D-Bus and
// their ten dependencies (1.1 MB resident), and runs where libavahi-client3 is not installed.
// Every function Hearsay calls is a pointer in HearsayAvahiAPI, typed from the real declarations
// with __typeof__, filled by hearsay_avahi_load().
//
// Swift cannot call C variadic functions: TXT lists are built with avahi_string_list_add_pair
// (not avahi_string_list_new) and services added with avahi_entry_group_add_service_strlst (not
// avahi_entry_group_add_service). AvahiStringList's flexible array is read through the helpers
// below.
#ifndef HEARSAY_CAVAHI_SHIM_H
#define HEARSAY_CAVAHI_SHIM_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/alternative.h>
#include <avahi-common/defs.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>

#define HEARSAY_AVAHI_FUNCTIONS(X) \
    X(avahi_threaded_poll_new) X(avahi_threaded_poll_get) X(avahi_threaded_poll_start) \
    X(avahi_threaded_poll_stop) X(avahi_threaded_poll_free) X(avahi_threaded_poll_lock) \
    X(avahi_threaded_poll_unlock) \
    X(avahi_client_new) X(avahi_client_free) X(avahi_client_get_state) X(avahi_client_errno) \
    X(avahi_client_get_host_name) X(avahi_client_get_version_string) \
    X(avahi_entry_group_new) X(avahi_entry_group_free) X(avahi_entry_group_commit) \
    X(avahi_entry_group_reset) X(avahi_entry_group_is_empty) X(avahi_entry_group_get_state) \
    X(avahi_entry_group_add_service_strlst) \
    X(avahi_service_browser_new) X(avahi_service_browser_free) \
    X(avahi_service_resolver_new) X(avahi_service_resolver_free) \
    X(avahi_string_list_add_pair) X(avahi_string_list_free) \
    X(avahi_alternative_service_name) X(avahi_free) X(avahi_strerror) X(avahi_address_snprint)

typedef struct {
#define HEARSAY_AVAHI_FIELD(f) __typeof__(&f) f;
    HEARSAY_AVAHI_FUNCTIONS(HEARSAY_AVAHI_FIELD)
#undef HEARSAY_AVAHI_FIELD
} HearsayAvahiAPI;

/// Opens libavahi-client.so.3 and fills `api`. Returns 0, or -1 with a reason in `error`.
static inline int hearsay_avahi_load(HearsayAvahiAPI *api, char *error, size_t error_size) {
    void *h = dlopen("libavahi-client.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(error, error_size, "%s", dlerror());
        return -1;
    }
    memset(api, 0, sizeof *api);
#define HEARSAY_AVAHI_LOAD(f) \
    api->f = (__typeof__(&f))dlsym(h, #f); \
    if (!api->f) { snprintf(error, error_size, "libavahi-client.so.3 lacks %s", #f); return -1; }
    HEARSAY_AVAHI_FUNCTIONS(HEARSAY_AVAHI_LOAD)
#undef HEARSAY_AVAHI_LOAD
    return 0;
}

static inline const uint8_t *hearsay_avahi_strlst_text(const AvahiStringList *l) { return l->text; }
static inline size_t hearsay_avahi_strlst_size(const AvahiStringList *l) { return l->size; }
static inline AvahiStringList *hearsay_avahi_strlst_next(const AvahiStringList *l) { return l->next; }

// AVAHI_IF_UNSPEC / AVAHI_PROTO_* as plain typed values.
static inline AvahiIfIndex hearsay_avahi_if_unspec(void) { return AVAHI_IF_UNSPEC; }
static inline AvahiProtocol hearsay_avahi_proto_unspec(void) { return AVAHI_PROTO_UNSPEC; }
static inline AvahiProtocol hearsay_avahi_proto_inet(void) { return AVAHI_PROTO_INET; }
static inline AvahiProtocol hearsay_avahi_proto_inet6(void) { return AVAHI_PROTO_INET6; }

#endif
