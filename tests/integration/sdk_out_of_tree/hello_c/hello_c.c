/* hello_c.c: a minimal agentd tool plugin in C11, built out of tree against the installed SDK. */
#include <agentd/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct hello_instance {
  const agentd_host_api* api;
} hello_instance;

static agentd_str str_of(const char* s) {
  agentd_str r;
  r.ptr = s;
  r.len = strlen(s);
  return r;
}

static agentd_status hello_create(const agentd_host_api* api, agentd_host* host,
                                  agentd_str config_json, agentd_instance** out) {
  hello_instance* inst = (hello_instance*)calloc(1, sizeof(*inst));
  (void)config_json;
  *out = NULL;
  if (inst == NULL) return AGENTD_ERR; /* last_error(NULL) says why */
  inst->api = api;
  api->log(host, AGENTD_LOG_INFO, str_of("hello_c plugin ready"));
  *out = (agentd_instance*)inst;
  return AGENTD_OK;
}

static void hello_destroy(agentd_instance* instance) { free(instance); }

static const char* hello_last_error(const agentd_instance* instance) {
  return instance == NULL ? "out of memory" : "";
}

static agentd_status hello_list_tools(agentd_instance* instance, agentd_list* list) {
  const hello_instance* inst = (const hello_instance*)instance;
  inst->api->add_tool(list, str_of("hello_c"), str_of("Says hello."),
                      str_of("{\"type\":\"object\"}"));
  return AGENTD_OK;
}

static agentd_status hello_invoke(agentd_instance* instance, agentd_call* call, agentd_str tool,
                                  agentd_str args_json) {
  const hello_instance* inst = (const hello_instance*)instance;
  (void)args_json;
  if (tool.len != 7 || memcmp(tool.ptr, "hello_c", 7) != 0) {
    inst->api->set_error(call, str_of("unknown tool"));
    return AGENTD_ENOTFOUND;
  }
  return inst->api->emit_text(call, str_of("hello from C"));
}

static const agentd_plugin kDescriptor = {
    sizeof(agentd_plugin), /* struct_size */
    AGENTD_ABI_VERSION,    /* abi_version */
    AGENTD_KIND_TOOL,      /* kind */
    0,                     /* reserved */
    "hello_c",             /* name */
    "1.0.0",               /* version */
    "Says hello from C.",  /* description */
    NULL,                  /* config_schema */
    hello_create,          /* create */
    NULL,                  /* reconfigure: none, the host builds a new instance instead */
    hello_destroy,         /* destroy */
    hello_last_error,      /* last_error */
    NULL,                  /* health */
    hello_list_tools,      /* list_tools */
    hello_invoke,          /* invoke */
    NULL,                  /* list_skills */
    NULL,                  /* end_task */
};

AGENTD_EXPORT const agentd_plugin* agentd_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kDescriptor;
}
