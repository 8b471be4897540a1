/* Compiled by the sdk_header_c11 test with -std=c11 -Wall -Wextra -Werror -pedantic: plugin.h must
 * stay valid, warning-free C11 so that plain C plugins are possible. */
#include <agentd/plugin.h>

static agentd_status c11_create(const agentd_host_api* api, agentd_host* host, agentd_str config,
                                agentd_instance** out) {
  (void)api;
  (void)host;
  (void)config;
  *out = NULL;
  return AGENTD_ENOTSUP;
}

static void c11_destroy(agentd_instance* instance) { (void)instance; }

static const char* c11_last_error(const agentd_instance* instance) {
  (void)instance;
  return "not supported";
}

static const agentd_plugin kDescriptor = {
    .struct_size = sizeof(agentd_plugin),
    .abi_version = AGENTD_ABI_VERSION,
    .kind = AGENTD_KIND_TOOL,
    .name = "c11",
    .version = "1.0.0",
    .create = c11_create,
    .destroy = c11_destroy,
    .last_error = c11_last_error,
};

AGENTD_EXPORT const agentd_plugin* agentd_plugin_entry(uint32_t host_abi_version) {
  return AGENTD_ABI_VERSION_MAJOR(host_abi_version) == AGENTD_ABI_MAJOR ? &kDescriptor : NULL;
}
