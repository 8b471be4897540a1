/* agentd plugin ABI, version 1.1. Pure C11; the only header a plugin needs.
 *
 * Compatibility: the host loads a plugin when MAJOR matches and the plugin's MINOR <= the host's
 * MINOR. Every struct starts with struct_size and is append-only: a field exists for a peer only if
 * it lies inside that peer's struct_size. See sdk/ABI.md for ownership and threading rules. */
#ifndef AGENTD_PLUGIN_H
#define AGENTD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AGENTD_ABI_MAJOR 1u
#define AGENTD_ABI_MINOR 1u
#define AGENTD_ABI_VERSION ((AGENTD_ABI_MAJOR << 16) | AGENTD_ABI_MINOR)
#define AGENTD_ABI_VERSION_MAJOR(v) (((uint32_t)(v)) >> 16)
#define AGENTD_ABI_VERSION_MINOR(v) (((uint32_t)(v)) & 0xffffu)

#if defined(__GNUC__)
#define AGENTD_EXPORT __attribute__((visibility("default")))
#else
#define AGENTD_EXPORT
#endif

/* Status codes. A value this header does not name, received from a newer peer, means
 * AGENTD_ERR. */
typedef int32_t agentd_status;
#define AGENTD_OK 0
#define AGENTD_ERR 1       /* generic failure; details in the error text */
#define AGENTD_EINVAL 2    /* bad input (arguments, config) */
#define AGENTD_ENOTSUP 3   /* operation not supported (e.g. reconfigure) */
#define AGENTD_ETIMEDOUT 4 /* deadline passed */
#define AGENTD_ECANCELED 5 /* the call was cancelled */
#define AGENTD_ENOTFOUND 6 /* unknown tool or skill */

/* Plugin kinds. */
typedef uint32_t agentd_kind;
#define AGENTD_KIND_TOOL 1        /* offers tools */
#define AGENTD_KIND_SKILL 2       /* offers skills (and optionally tools) */
#define AGENTD_KIND_MCP_ADAPTER 3 /* offers tools that come from MCP servers */

/* Tool flags (add_tool_flags, ABI >= 1.1).
 * AGENTD_TOOL_INLINE: the tool returns within about a millisecond and never blocks (no I/O
 * waits, sleeps, child processes or locks other threads hold). The host may run such a call on
 * its event thread instead of handing it to a worker; a call that overruns its budget gets the
 * tool demoted to the workers. */
#define AGENTD_TOOL_INLINE 1u

/* Log levels. */
typedef uint32_t agentd_log_level;
#define AGENTD_LOG_DEBUG 1
#define AGENTD_LOG_INFO 2
#define AGENTD_LOG_WARN 3
#define AGENTD_LOG_ERROR 4

/* Metric types. */
typedef uint32_t agentd_metric_type;
#define AGENTD_METRIC_COUNTER 1   /* record() adds a value >= 0 */
#define AGENTD_METRIC_GAUGE 2     /* record() sets the value */
#define AGENTD_METRIC_HISTOGRAM 3 /* record() observes a value (seconds buckets) */

/* A borrowed byte string, not NUL-terminated, UTF-8 where text is meant.
 * OWNERSHIP: the caller; valid only for the duration of the call it is passed to. */
typedef struct agentd_str {
  const char* ptr;
  size_t len;
} agentd_str;

typedef struct agentd_host agentd_host;         /* OWNERSHIP: host; valid until destroy() returns */
typedef struct agentd_call agentd_call;         /* OWNERSHIP: host; valid until invoke() returns */
typedef struct agentd_list agentd_list;         /* OWNERSHIP: host; valid during list_*() only */
typedef struct agentd_instance agentd_instance; /* OWNERSHIP: plugin; opaque to the host */

/* Services the host offers a plugin. OWNERSHIP: host; valid until destroy() returns.
 * Every function is thread-safe. */
typedef struct agentd_host_api {
  uint32_t struct_size; /* sizeof(agentd_host_api) as compiled by the host */
  uint32_t abi_version; /* the host's AGENTD_ABI_VERSION */

  /* Writes one log line attributed to the plugin. */
  void (*log)(agentd_host* host, agentd_log_level level, agentd_str message);

  /* Defines (or finds, if already defined with the same type and labels) a host-owned metric
   * named "agentd_" + name. name: [a-z_][a-z0-9_]*; counters must end in "_total". Writes a
   * handle to *out. At most 8 labels. */
  agentd_status (*metric_define)(agentd_host* host, agentd_metric_type type, agentd_str name,
                                 agentd_str help, const agentd_str* label_names, size_t label_count,
                                 uint32_t* out);
  /* Counter: adds value; gauge: sets value; histogram: observes value. label_values must match
   * the defined label names in number; invalid handles are ignored. */
  void (*metric_record)(agentd_host* host, uint32_t metric, const agentd_str* label_values,
                        size_t label_count, double value);

  /* Tells the host the plugin's tool or skill list changed; the host calls list_tools() /
   * list_skills() again later, never from inside this call. */
  void (*tools_changed)(agentd_host* host);

  /* Appends output of the running call; the host copies the bytes. A call's output is either
   * text (emit_text, UTF-8) or one JSON value (emit_json, chunks concatenated); mixing the two,
   * invalid UTF-8 or invalid JSON turns the call into an error. */
  agentd_status (*emit_text)(agentd_call* call, agentd_str chunk);
  agentd_status (*emit_json)(agentd_call* call, agentd_str chunk);
  /* Sets the error message reported when invoke() returns a status other than AGENTD_OK. */
  void (*set_error)(agentd_call* call, agentd_str message);
  /* Reports progress of the running call; total <= 0 means unknown. */
  void (*progress)(agentd_call* call, double progress, double total, agentd_str message);
  /* Returns 1 once the call is cancelled or past its deadline; long calls poll it. */
  int (*is_cancelled)(const agentd_call* call);
  /* Returns a context value of the call ("task_id", "agent", "working_dir", "tool_call_id"),
   * or an empty string. OWNERSHIP: host; valid until invoke() returns. */
  agentd_str (*call_context)(const agentd_call* call, agentd_str key);

  /* Called by list_tools(): adds one tool. input_schema is a JSON Schema object; the host
   * copies everything. */
  void (*add_tool)(agentd_list* list, agentd_str name, agentd_str description,
                   agentd_str input_schema);
  /* Called by list_skills(): adds one skill. The host copies everything. */
  void (*add_skill)(agentd_list* list, agentd_str name, agentd_str description,
                    agentd_str instructions);

  /* ABI >= 1.1 (check struct_size before use). Called by list_tools(): adds one tool, like
   * add_tool, with flags (AGENTD_TOOL_*; unknown bits are ignored). */
  void (*add_tool_flags)(agentd_list* list, agentd_str name, agentd_str description,
                         agentd_str input_schema, uint32_t flags);
} agentd_host_api;

/* The plugin descriptor. OWNERSHIP: plugin, static storage; valid while the library is loaded.
 * Threading: create, reconfigure, destroy and last_error run on the host's control thread, one
 * at a time. invoke, list_tools, list_skills, health and end_task may run on any thread,
 * concurrently with each other and with reconfigure; the plugin synchronizes its own state.
 * Nothing runs concurrently with destroy. */
typedef struct agentd_plugin {
  uint32_t struct_size; /* sizeof(agentd_plugin) as compiled by the plugin */
  uint32_t abi_version; /* AGENTD_ABI_VERSION the plugin was built against */
  agentd_kind kind;
  uint32_t reserved;         /* 0 */
  const char* name;          /* [a-z0-9_]+, unique among loaded plugins; required */
  const char* version;       /* the plugin's own version, e.g. "1.2.0"; required */
  const char* description;   /* one line; may be NULL */
  const char* config_schema; /* JSON Schema the host validates config against; may be NULL */

  /* Required. Builds an instance from config_json (a JSON object, "{}" when none). The host
   * table and host handle stay valid until destroy(). On failure returns non-OK and leaves
   * *out NULL; the reason is then available from last_error(NULL). */
  agentd_status (*create)(const agentd_host_api* api, agentd_host* host, agentd_str config_json,
                          agentd_instance** out);
  /* Optional. Applies a new config to a live instance; non-OK rejects it and the instance keeps
   * its previous config. NULL: the host builds a new instance instead. */
  agentd_status (*reconfigure)(agentd_instance* instance, agentd_str config_json);
  /* Required. After it returns no plugin thread or callback may run for this instance. */
  void (*destroy)(agentd_instance* instance);
  /* Required. Text of the last failed control operation on instance (create when instance is
   * NULL). OWNERSHIP: plugin; valid until the next control call. Never NULL. */
  const char* (*last_error)(const agentd_instance* instance);
  /* Optional. Returns AGENTD_OK when the instance can serve. Must not block. */
  agentd_status (*health)(agentd_instance* instance);

  /* Required for tool and MCP adapter plugins. Reports the current tools through
   * api->add_tool(list, ...). */
  agentd_status (*list_tools)(agentd_instance* instance, agentd_list* list);
  /* Required for tool and MCP adapter plugins. Runs tool `tool` with arguments `args_json` (a JSON
   * object). Output goes through api->emit_text / api->emit_json; errors through api->set_error
   * and a non-OK status. */
  agentd_status (*invoke)(agentd_instance* instance, agentd_call* call, agentd_str tool,
                          agentd_str args_json);
  /* Required for skill plugins. Reports the current skills through api->add_skill(list, ...). */
  agentd_status (*list_skills)(agentd_instance* instance, agentd_list* list);
  /* Optional. The task task_id ended; release per-task state (sessions, processes). */
  void (*end_task)(agentd_instance* instance, agentd_str task_id);
} agentd_plugin;

/* The one exported symbol. Returns the descriptor, or NULL if the plugin cannot serve a host of
 * version host_abi_version. */
typedef const agentd_plugin* (*agentd_plugin_entry_fn)(uint32_t host_abi_version);
AGENTD_EXPORT const agentd_plugin* agentd_plugin_entry(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* AGENTD_PLUGIN_H */
